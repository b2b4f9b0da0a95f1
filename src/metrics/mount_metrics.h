// The s3mount series: what the S3 client, the FUSE adapter, the memory budget and the
// file system core count, registered once in a Registry (registry.h) and handed to each
// module as plain pointers. docs/CONFIGURATION.md lists every series.
//
// Threading: every method may be called from any thread at any time (relaxed atomics, no
// locks). The objects are built before the data path starts and must outlive it.
#pragma once

#include <array>
#include <chrono>
#include <memory>

#include "metrics/registry.h"
#include "s3/object_client.h"

namespace s3m {
class MemoryBudget;
}

namespace s3m::metrics {

// The class of an S3 request's outcome: the HTTP status class, or kError when no HTTP
// response came back (connection refused, reset, timeout).
enum class StatusClass { k2xx, k3xx, k4xx, k5xx, kError, kCount };
StatusClass ClassOf(int http_status);  // 0 (or anything outside 200-599): kError
const char* StatusClassName(StatusClass c);

// Counted by S3ObjectClient once per HTTP request (attempt) and once per operation.
class S3RequestMetrics {
 public:
  explicit S3RequestMetrics(Registry* registry);

  // One HTTP request of `op` ended: its status (0 without a response), the body bytes it
  // sent and received, and its duration from sending to the end of the response.
  void OnRequest(S3Op op, int http_status, uint64_t bytes_sent, uint64_t bytes_received,
                 std::chrono::nanoseconds latency);
  void OnRetry(S3Op op);    // a request is sent again after a retryable error
  void OnFailure(S3Op op);  // the operation ended in an error, retries spent or not

 private:
  static constexpr size_t kOps = static_cast<size_t>(S3Op::kCount);
  static constexpr size_t kClasses = static_cast<size_t>(StatusClass::kCount);
  struct PerOp {
    std::array<Counter*, kClasses> requests;
    Counter* retries;
    Counter* failures;
    Counter* bytes_sent;
    Counter* bytes_received;
    Histogram* latency;
  };
  std::array<PerOp, kOps> ops_;
};

// The FUSE operations, for the `op` label.
enum class FuseOp {
  kLookup,
  kForget,
  kGetattr,
  kSetattr,
  kMkdir,
  kMknod,
  kUnlink,
  kRmdir,
  kRename,
  kLink,
  kSymlink,
  kReadlink,
  kOpen,
  kCreate,
  kRead,
  kWrite,
  kFlush,
  kFsync,
  kRelease,
  kOpendir,
  kReaddir,
  kReaddirplus,
  kReleasedir,
  kStatfs,
  kCount,
};
const char* FuseOpName(FuseOp op);

class FuseMetrics;

// Times one FUSE request from its arrival to its reply. Copies share one measurement,
// taken when the last copy is destroyed: capture it in the completion that replies, so
// the time covers the asynchronous part too. A default-constructed timer measures
// nothing (metrics off, tests).
class FuseOpTimer {
 public:
  FuseOpTimer() = default;
  FuseOpTimer(FuseMetrics* metrics, FuseOp op);

 private:
  struct Pending;
  std::shared_ptr<Pending> pending_;
};

class FuseMetrics {
 public:
  explicit FuseMetrics(Registry* registry);

  FuseOpTimer Start(FuseOp op) { return FuseOpTimer(this, op); }
  // A request answered with this errno (the one errno map's output, or a fixed EPERM).
  void OnError(int error);

 private:
  friend class FuseOpTimer;
  // errno values above this are counted as "other" (Linux's highest is 133, EHWPOISON).
  static constexpr int kMaxErrno = 133;
  static constexpr size_t kOps = static_cast<size_t>(FuseOp::kCount);
  std::array<Counter*, kOps> ops_;
  std::array<Histogram*, kOps> latency_;
  std::array<Counter*, kMaxErrno + 2> errors_;  // [kMaxErrno + 1]: other
};

// Every series of a mount. The S3 and FUSE parts are passed to the client and the FUSE
// adapter; the gauges to the file system core (FsOptions).
struct MountMetrics {
  explicit MountMetrics(Registry* registry);

  S3RequestMetrics s3;
  FuseMetrics fuse;
  // Bytes the open files' prefetchers keep requested ahead of their readers (the sum of
  // their windows; object_reader.h).
  Gauge* prefetch_window_bytes;
  // Uploads of flushed or closed files not yet in S3 (what a clean unmount waits for).
  Gauge* uploads_in_flight;
};

// Series read from the budget at each collection: bytes in use, the limit, the peak, the
// requests waiting now and the waits so far. `budget` must outlive the registry's use.
void RegisterMemoryBudget(Registry* registry, const MemoryBudget* budget);

}  // namespace s3m::metrics
