#include "s3/retry_policy.h"

#include <algorithm>
#include <random>
#include <string>

namespace s3m {

RetryOptions RetryOptionsFromEnv(RetryOptions defaults, const GetEnvFn& getenv) {
  if (auto v = getenv("AWS_MAX_ATTEMPTS")) {
    try {
      int n = std::stoi(*v);
      if (n > 0) defaults.max_attempts = n;
    } catch (const std::exception&) {
      // Not a number: keep the default, as the SDKs do.
    }
  }
  return defaults;
}

RetryPolicy::RetryPolicy(RetryOptions options, std::function<double()> random01)
    : options_(options), random01_(std::move(random01)) {
  if (!random01_) {
    random01_ = [] {
      thread_local std::mt19937_64 rng{std::random_device{}()};
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    };
  }
}

std::optional<std::chrono::nanoseconds> RetryPolicy::NextDelay(int attempt, const Status& error,
                                                               bool idempotent,
                                                               bool maybe_sent) const {
  if (error.ok() || !error.retryable() || attempt >= options_.max_attempts) return std::nullopt;
  // A non-idempotent step (CompleteMultipartUpload, a conditional create) is retried only
  // when it certainly did not run: it never left, or the server said it failed.
  if (!idempotent && maybe_sent && error.http_status() == 0) return std::nullopt;
  double ceiling = static_cast<double>(options_.base.count());
  for (int i = 1; i < attempt && ceiling < static_cast<double>(options_.cap.count()); i++) {
    ceiling *= 2;
  }
  ceiling = std::min(ceiling, static_cast<double>(options_.cap.count()));
  return std::chrono::nanoseconds(static_cast<int64_t>(ceiling * random01_()));
}

}  // namespace s3m
