#include "metrics/mount_metrics.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <functional>

#include "memory/memory_budget.h"
#include "metrics/text_format.h"

namespace s3m::metrics {
namespace {

using namespace std::chrono_literals;

double Value(const Registry& r, const std::string& series) {
  auto flat = Flatten(r.Collect());
  auto it = flat.find(series);
  return it == flat.end() ? -1 : it->second;
}

TEST(S3RequestMetrics, CountsByOperationAndStatusClass) {
  Registry r;
  S3RequestMetrics m(&r);
  m.OnRequest(S3Op::kGetObject, 206, 0, 1000, 20ms);
  m.OnRequest(S3Op::kGetObject, 503, 0, 200, 5ms);
  m.OnRetry(S3Op::kGetObject);
  m.OnRequest(S3Op::kPutObject, 200, 4096, 0, 30ms);
  m.OnRequest(S3Op::kHeadObject, 404, 0, 0, 1ms);
  m.OnRequest(S3Op::kListObjects, 0, 0, 0, 1s);  // no response
  m.OnFailure(S3Op::kListObjects);
  EXPECT_EQ(Value(r, R"(s3mount_s3_requests_total{operation="GetObject",status="2xx"})"), 1);
  EXPECT_EQ(Value(r, R"(s3mount_s3_requests_total{operation="GetObject",status="5xx"})"), 1);
  EXPECT_EQ(Value(r, R"(s3mount_s3_requests_total{operation="PutObject",status="2xx"})"), 1);
  EXPECT_EQ(Value(r, R"(s3mount_s3_requests_total{operation="HeadObject",status="4xx"})"), 1);
  EXPECT_EQ(Value(r, R"(s3mount_s3_requests_total{operation="ListObjectsV2",status="error"})"), 1);
  EXPECT_EQ(Value(r, R"(s3mount_s3_retries_total{operation="GetObject"})"), 1);
  EXPECT_EQ(Value(r, R"(s3mount_s3_failures_total{operation="ListObjectsV2"})"), 1);
  EXPECT_EQ(Value(r, R"(s3mount_s3_received_bytes_total{operation="GetObject"})"), 1200);
  EXPECT_EQ(Value(r, R"(s3mount_s3_sent_bytes_total{operation="PutObject"})"), 4096);
  EXPECT_EQ(Value(r, R"(s3mount_s3_request_duration_seconds_count{operation="GetObject"})"), 2);
  EXPECT_DOUBLE_EQ(Value(r, R"(s3mount_s3_request_duration_seconds_sum{operation="GetObject"})"),
                   0.025);
}

TEST(StatusClass, Boundaries) {
  EXPECT_EQ(ClassOf(0), StatusClass::kError);
  EXPECT_EQ(ClassOf(199), StatusClass::kError);
  EXPECT_EQ(ClassOf(200), StatusClass::k2xx);
  EXPECT_EQ(ClassOf(304), StatusClass::k3xx);
  EXPECT_EQ(ClassOf(499), StatusClass::k4xx);
  EXPECT_EQ(ClassOf(500), StatusClass::k5xx);
  EXPECT_EQ(ClassOf(600), StatusClass::kError);
}

TEST(FuseMetrics, TimerCopiesRecordOnceWhenTheLastGoes) {
  Registry r;
  FuseMetrics m(&r);
  const std::string count = R"(s3mount_fuse_request_duration_seconds_count{op="read"})";
  std::function<void()> completion;
  {
    FuseOpTimer t = m.Start(FuseOp::kRead);
    completion = [t] {};  // the reply comes later, from the completion
    FuseOpTimer copy = t;
  }
  EXPECT_EQ(Value(r, R"(s3mount_fuse_requests_total{op="read"})"), 1);
  EXPECT_EQ(Value(r, count), 0);  // still waiting for the reply
  completion = nullptr;
  EXPECT_EQ(Value(r, count), 1);
  FuseOpTimer off;  // metrics off: nothing to record, nothing to crash
}

TEST(FuseMetrics, ErrorsByErrnoName) {
  Registry r;
  FuseMetrics m(&r);
  m.OnError(ENOENT);
  m.OnError(ENOENT);
  m.OnError(EIO);
  m.OnError(0);     // success is not an error
  m.OnError(5000);  // out of range: "other"
  EXPECT_EQ(Value(r, R"(s3mount_fuse_errors_total{errno="ENOENT"})"), 2);
  EXPECT_EQ(Value(r, R"(s3mount_fuse_errors_total{errno="EIO"})"), 1);
  EXPECT_EQ(Value(r, R"(s3mount_fuse_errors_total{errno="other"})"), 1);
  EXPECT_EQ(Value(r, R"(s3mount_fuse_errors_total{errno="EPERM"})"), -1);  // hidden at 0
}

TEST(MemoryBudgetSeries, ReadTheBudget) {
  Registry r;
  MemoryBudget budget(100);
  RegisterMemoryBudget(&r, &budget);
  ASSERT_TRUE(budget.TryAcquire(60));
  EXPECT_FALSE(budget.TryAcquire(60));
  int granted = 0;
  budget.Acquire(50, [&] { granted++; });  // waits
  EXPECT_EQ(Value(r, "s3mount_memory_budget_used_bytes"), 60);
  EXPECT_EQ(Value(r, "s3mount_memory_budget_limit_bytes"), 100);
  EXPECT_EQ(Value(r, "s3mount_memory_budget_waiters"), 1);
  EXPECT_EQ(Value(r, "s3mount_memory_budget_waits_total"), 1);
  EXPECT_EQ(Value(r, "s3mount_memory_budget_refusals_total"), 1);
  budget.Release(60);
  EXPECT_EQ(granted, 1);
  EXPECT_EQ(Value(r, "s3mount_memory_budget_used_bytes"), 50);
  EXPECT_EQ(Value(r, "s3mount_memory_budget_peak_bytes"), 60);
  budget.Release(50);
}

}  // namespace
}  // namespace s3m::metrics
