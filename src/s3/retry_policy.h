// When to retry a failed S3 request and how long to wait: exponential back-off with full
// jitter (delay = uniform(0, min(cap, base * 2^(attempt-1)))), as the AWS SDKs do.
// Immutable after construction apart from the random source; any thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include "common/status.h"
#include "s3/credentials.h"

namespace s3m {

struct RetryOptions {
  int max_attempts = 10;  // AWS_MAX_ATTEMPTS overrides; Mountpoint also defaults to 10
  std::chrono::nanoseconds base = std::chrono::milliseconds(100);
  std::chrono::nanoseconds cap = std::chrono::seconds(20);
};

// The options with AWS_MAX_ATTEMPTS applied (ignored unless a positive integer).
RetryOptions RetryOptionsFromEnv(RetryOptions defaults, const GetEnvFn& getenv);

class RetryPolicy {
 public:
  // `random01` returns a uniform value in [0, 1); tests pass a fixed one.
  explicit RetryPolicy(RetryOptions options, std::function<double()> random01 = nullptr);

  // The delay before the next attempt after attempt number `attempt` (1-based) failed
  // with `error`, or nullopt to give up. `idempotent` is false for a step that must not
  // run twice; `maybe_sent` says whether the failed request may have reached the server.
  std::optional<std::chrono::nanoseconds> NextDelay(int attempt, const Status& error,
                                                    bool idempotent, bool maybe_sent) const;

  int max_attempts() const { return options_.max_attempts; }

 private:
  RetryOptions options_;
  std::function<double()> random01_;
};

}  // namespace s3m
