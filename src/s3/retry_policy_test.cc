#include "s3/retry_policy.h"

#include <gtest/gtest.h>

#include <map>

namespace s3m {
namespace {

using std::chrono::milliseconds;

Status Retryable() {
  return Status(Code::kServerError, "x").set_retryable(true).set_http_status(500);
}

TEST(RetryPolicyTest, FullJitterWithinDoublingCeilingUpToCap) {
  RetryPolicy p({.max_attempts = 20, .base = milliseconds(100), .cap = milliseconds(1000)},
                [] { return 0.999999; });
  EXPECT_NEAR(p.NextDelay(1, Retryable(), true, true)->count(), 100e6, 1e3);
  EXPECT_NEAR(p.NextDelay(2, Retryable(), true, true)->count(), 200e6, 1e3);
  EXPECT_NEAR(p.NextDelay(4, Retryable(), true, true)->count(), 800e6, 1e3);
  EXPECT_NEAR(p.NextDelay(10, Retryable(), true, true)->count(), 1000e6, 1e3);  // capped
  RetryPolicy zero({.max_attempts = 5}, [] { return 0.0; });
  EXPECT_EQ(zero.NextDelay(3, Retryable(), true, true)->count(), 0);
}

TEST(RetryPolicyTest, StopsAtMaxAttemptsAndOnPermanentErrors) {
  RetryPolicy p({.max_attempts = 3}, [] { return 0.5; });
  EXPECT_TRUE(p.NextDelay(2, Retryable(), true, true).has_value());
  EXPECT_FALSE(p.NextDelay(3, Retryable(), true, true).has_value());
  EXPECT_FALSE(p.NextDelay(1, Status(Code::kNotFound, "gone"), true, true).has_value());
}

TEST(RetryPolicyTest, NonIdempotentOnlyWhenCertainlyNotRun) {
  RetryPolicy p({.max_attempts = 3}, [] { return 0.5; });
  Status reset = Status(Code::kNetwork, "reset").set_retryable(true);
  EXPECT_FALSE(p.NextDelay(1, reset, /*idempotent=*/false, /*maybe_sent=*/true).has_value());
  EXPECT_TRUE(p.NextDelay(1, reset, false, /*maybe_sent=*/false).has_value());
  EXPECT_TRUE(p.NextDelay(1, Retryable(), false, true).has_value());  // the server said 500
}

TEST(RetryPolicyTest, MaxAttemptsFromEnvironment) {
  EXPECT_EQ(RetryOptionsFromEnv({}, MapEnv({{"AWS_MAX_ATTEMPTS", "4"}})).max_attempts, 4);
  EXPECT_EQ(RetryOptionsFromEnv({}, MapEnv({{"AWS_MAX_ATTEMPTS", "zero"}})).max_attempts, 10);
  EXPECT_EQ(RetryOptionsFromEnv({}, MapEnv({})).max_attempts, 10);
}

}  // namespace
}  // namespace s3m
