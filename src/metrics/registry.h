// Registry: the one place the process's metrics live. Series (a name plus fixed label
// values) are registered at start-up and counted where the event happens with relaxed
// atomics; exporters (the Prometheus endpoint, the metrics log) read a Snapshot.
//
// Threading: Counter, Gauge and Histogram are lock-free and callable from any thread.
// Add*() and Collect() take the registry's own mutex, which no data path ever takes:
// series are registered before the data path starts (or rarely after), so a scrape
// waits for nothing but a copy of the counters. Functions registered with AddCounterFn /
// AddGaugeFn run inside Collect() on the exporter's thread; they must only read counters
// (they may take a leaf lock for the length of a copy). The registry must outlive every
// series pointer it handed out and every exporter.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace s3m::metrics {

// Label name/value pairs, in the order they are printed.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Counts observations into fixed buckets (upper bounds, ascending). A snapshot taken while
// observations land may see a bucket count and the total count of slightly different
// moments; each value is exact, and the text format's cumulative buckets stay monotonic.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  void ObserveSeconds(std::chrono::nanoseconds d) {
    Observe(std::chrono::duration<double>(d).count());
  }

  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (not cumulative) counts, bounds().size() + 1 of them (the last is +Inf).
  std::vector<uint64_t> BucketCounts() const;
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 0.5 ms to 30 s: S3's first byte takes ~10-100 ms, a FUSE
// operation served from memory well under a millisecond, a stalled request seconds.
std::vector<double> LatencyBuckets();

enum class Type { kCounter, kGauge, kHistogram };

struct SeriesSnapshot {
  Labels labels;
  double value = 0;  // counters and gauges
  // Histograms: cumulative counts per bound (the last is +Inf), the sum and the count.
  std::vector<double> bounds;
  std::vector<uint64_t> cumulative;
  double sum = 0;
  uint64_t count = 0;
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  Type type = Type::kCounter;
  std::vector<SeriesSnapshot> series;
};

// Families in registration order, each with its series in registration order.
using Snapshot = std::vector<FamilySnapshot>;

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering the same name again adds a series to the family; its type and help must
  // match the first registration, and names must be valid Prometheus names (a mistake is
  // a crash at start-up, not a malformed scrape). `hide_zero`: the series is left out of
  // snapshots while it reads 0 (for series that exist per errno, most of them never used).
  Counter* AddCounter(const std::string& name, const std::string& help, Labels labels = {},
                      bool hide_zero = false);
  Gauge* AddGauge(const std::string& name, const std::string& help, Labels labels = {});
  Histogram* AddHistogram(const std::string& name, const std::string& help, Labels labels,
                          std::vector<double> bounds);
  // Series whose value another module keeps (the memory budget's bytes in use).
  void AddCounterFn(const std::string& name, const std::string& help, Labels labels,
                    std::function<uint64_t()> read);
  void AddGaugeFn(const std::string& name, const std::string& help, Labels labels,
                  std::function<double()> read);

  Snapshot Collect() const;

 private:
  struct Series;
  struct Family;
  Series& Add(const std::string& name, const std::string& help, Type type, Labels labels);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;  // GUARDED_BY(mu_)
};

}  // namespace s3m::metrics
