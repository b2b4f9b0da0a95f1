#include "metrics/mount_metrics.h"

#include <cstring>
#include <string>

#include "memory/memory_budget.h"

namespace s3m::metrics {

StatusClass ClassOf(int http_status) {
  if (http_status >= 200 && http_status < 300) return StatusClass::k2xx;
  if (http_status >= 300 && http_status < 400) return StatusClass::k3xx;
  if (http_status >= 400 && http_status < 500) return StatusClass::k4xx;
  if (http_status >= 500 && http_status < 600) return StatusClass::k5xx;
  return StatusClass::kError;
}

const char* StatusClassName(StatusClass c) {
  static constexpr const char* kNames[] = {"2xx", "3xx", "4xx", "5xx", "error"};
  return kNames[static_cast<size_t>(c)];
}

S3RequestMetrics::S3RequestMetrics(Registry* r) {
  for (size_t i = 0; i < kOps; i++) {
    const std::string op = S3OpName(static_cast<S3Op>(i));
    PerOp& p = ops_[i];
    for (size_t c = 0; c < kClasses; c++) {
      p.requests[c] = r->AddCounter(
          "s3mount_s3_requests_total", "S3 HTTP requests (retries included) by outcome",
          {{"operation", op}, {"status", StatusClassName(static_cast<StatusClass>(c))}});
    }
    p.retries =
        r->AddCounter("s3mount_s3_retries_total", "S3 requests sent again after a retryable error",
                      {{"operation", op}});
    p.failures = r->AddCounter("s3mount_s3_failures_total",
                               "S3 operations that ended in an error (after any retries)",
                               {{"operation", op}});
    p.bytes_sent = r->AddCounter("s3mount_s3_sent_bytes_total", "Request body bytes sent to S3",
                                 {{"operation", op}});
    p.bytes_received = r->AddCounter("s3mount_s3_received_bytes_total",
                                     "Response body bytes received from S3", {{"operation", op}});
    p.latency = r->AddHistogram("s3mount_s3_request_duration_seconds",
                                "Duration of one S3 HTTP request, sending to the end of the answer",
                                {{"operation", op}}, LatencyBuckets());
  }
}

void S3RequestMetrics::OnRequest(S3Op op, int http_status, uint64_t bytes_sent,
                                 uint64_t bytes_received, std::chrono::nanoseconds latency) {
  PerOp& p = ops_[static_cast<size_t>(op)];
  p.requests[static_cast<size_t>(ClassOf(http_status))]->Add();
  if (bytes_sent) p.bytes_sent->Add(bytes_sent);
  if (bytes_received) p.bytes_received->Add(bytes_received);
  p.latency->ObserveSeconds(latency);
}

void S3RequestMetrics::OnRetry(S3Op op) {
  ops_[static_cast<size_t>(op)].retries->Add();
}

void S3RequestMetrics::OnFailure(S3Op op) {
  ops_[static_cast<size_t>(op)].failures->Add();
}

const char* FuseOpName(FuseOp op) {
  static constexpr const char* kNames[] = {
      "lookup", "forget", "getattr", "setattr",  "mkdir",   "mknod",       "unlink",     "rmdir",
      "rename", "link",   "symlink", "readlink", "open",    "create",      "read",       "write",
      "flush",  "fsync",  "release", "opendir",  "readdir", "readdirplus", "releasedir", "statfs"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(FuseOp::kCount));
  return kNames[static_cast<size_t>(op)];
}

struct FuseOpTimer::Pending {
  Pending(FuseMetrics* m, FuseOp o) : metrics(m), op(o) {}
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;
  FuseMetrics* const metrics;
  const FuseOp op;
  const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  ~Pending() {
    metrics->latency_[static_cast<size_t>(op)]->ObserveSeconds(std::chrono::steady_clock::now() -
                                                               start);
  }
};

FuseOpTimer::FuseOpTimer(FuseMetrics* metrics, FuseOp op) {
  if (metrics == nullptr) return;
  metrics->ops_[static_cast<size_t>(op)]->Add();
  pending_ = std::make_shared<Pending>(metrics, op);
}

FuseMetrics::FuseMetrics(Registry* r) {
  for (size_t i = 0; i < kOps; i++) {
    Labels op{{"op", FuseOpName(static_cast<FuseOp>(i))}};
    ops_[i] = r->AddCounter("s3mount_fuse_requests_total", "FUSE requests received", op);
    latency_[i] =
        r->AddHistogram("s3mount_fuse_request_duration_seconds",
                        "Duration of a FUSE request, arrival to reply", op, LatencyBuckets());
  }
  for (int e = 1; e <= kMaxErrno + 1; e++) {
    const char* name = e <= kMaxErrno ? strerrorname_np(e) : nullptr;
    std::string label = name != nullptr ? name : (e <= kMaxErrno ? std::to_string(e) : "other");
    errors_[e] = r->AddCounter("s3mount_fuse_errors_total", "FUSE requests answered with an error",
                               {{"errno", label}}, /*hide_zero=*/true);
  }
  errors_[0] = nullptr;
}

void FuseMetrics::OnError(int error) {
  if (error <= 0) return;
  errors_[error <= kMaxErrno ? error : kMaxErrno + 1]->Add();
}

MountMetrics::MountMetrics(Registry* r)
    : s3(r),
      fuse(r),
      prefetch_window_bytes(r->AddGauge("s3mount_prefetch_window_bytes",
                                        "Bytes the open files' prefetchers keep requested ahead "
                                        "of their readers (sum of the windows)")),
      uploads_in_flight(r->AddGauge("s3mount_uploads_in_flight",
                                    "Uploads of flushed or closed files not yet complete in S3")) {}

void RegisterMemoryBudget(Registry* r, const MemoryBudget* b) {
  r->AddGaugeFn("s3mount_memory_budget_used_bytes",
                "Data buffer bytes charged to the memory budget (prefetch and upload parts)", {},
                [b] { return static_cast<double>(b->used()); });
  r->AddGaugeFn("s3mount_memory_budget_limit_bytes", "The memory budget for data buffers", {},
                [b] { return static_cast<double>(b->limit()); });
  r->AddGaugeFn("s3mount_memory_budget_peak_bytes", "The most data buffer bytes held at once", {},
                [b] { return static_cast<double>(b->peak()); });
  r->AddGaugeFn("s3mount_memory_budget_waiters", "Requests (uploads) waiting for memory now", {},
                [b] { return static_cast<double>(b->waiters()); });
  r->AddCounterFn("s3mount_memory_budget_waits_total",
                  "Requests for memory that had to wait (writers, before an upload part)", {},
                  [b] { return b->waits(); });
  r->AddCounterFn("s3mount_memory_budget_refusals_total",
                  "Requests for memory the budget refused at once (the caller frees cached buffers "
                  "and asks again, shrinks its prefetch window, or waits)",
                  {}, [b] { return b->refusals(); });
  r->AddCounterFn("s3mount_memory_budget_forced_total",
                  "Buffers granted past the limit so that a read never waits for memory", {},
                  [b] { return b->forced(); });
}

}  // namespace s3m::metrics
