// Clock: the one source of time, injected so tests (retry back-off, credential expiry)
// never sleep for real. RealClock is thread-safe; FakeClock is thread-safe too.
#pragma once

#include <chrono>
#include <mutex>

namespace s3m {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  virtual ~Clock() = default;
  // Wall-clock time (for signing and credential expiry).
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time (for timeouts and back-off).
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
};

class RealClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  static RealClock* Get();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start =
                         std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)))
      : now_(start) {}
  std::chrono::system_clock::time_point Now() const override {
    std::lock_guard l(mu_);
    return now_;
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    std::lock_guard l(mu_);
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }
  void Advance(Duration d) {
    std::lock_guard l(mu_);
    now_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }

 private:
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point now_;
};

}  // namespace s3m
