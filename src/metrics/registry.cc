#include "metrics/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace s3m::metrics {
namespace {

// A registration mistake is a programming error: stop at start-up with the reason.
void Check(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "metrics registry: %s\n", what.c_str());
  std::abort();
}

bool ValidName(const std::string& s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  Check(std::is_sorted(bounds_.begin(), bounds_.end()) &&
            std::adjacent_find(bounds_.begin(), bounds_.end()) == bounds_.end(),
        "histogram bounds must be strictly ascending");
  for (size_t i = 0; i <= bounds_.size(); i++) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // Prometheus buckets are "less than or equal": the first bound >= value.
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); i++) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

struct Registry::Series {
  Labels labels;
  bool hide_zero = false;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<uint64_t()> counter_fn;
  std::function<double()> gauge_fn;
};

struct Registry::Family {
  std::string name;
  std::string help;
  Type type;
  std::vector<std::unique_ptr<Series>> series;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Series& Registry::Add(const std::string& name, const std::string& help, Type type,
                                Labels labels) {
  Check(ValidName(name, true), "invalid metric name '" + name + "'");
  for (const auto& [label, value] : labels) {
    Check(ValidName(label, false) && label.rfind("__", 0) != 0 && label != "le",
          "invalid label name '" + label + "' on " + name);
  }
  std::lock_guard l(mu_);
  auto it = std::find_if(families_.begin(), families_.end(),
                         [&](const auto& f) { return f->name == name; });
  Family* family;
  if (it == families_.end()) {
    families_.push_back(std::make_unique<Family>(Family{name, help, type, {}}));
    family = families_.back().get();
  } else {
    family = it->get();
    Check(family->type == type && family->help == help,
          "metric '" + name + "' registered twice with different types or help");
    for (const auto& s : family->series) {
      Check(s->labels != labels, "series registered twice in '" + name + "'");
    }
  }
  family->series.push_back(std::make_unique<Series>());
  family->series.back()->labels = std::move(labels);
  return *family->series.back();
}

Counter* Registry::AddCounter(const std::string& name, const std::string& help, Labels labels,
                              bool hide_zero) {
  Series& s = Add(name, help, Type::kCounter, std::move(labels));
  s.hide_zero = hide_zero;
  s.counter = std::make_unique<Counter>();
  return s.counter.get();
}

Gauge* Registry::AddGauge(const std::string& name, const std::string& help, Labels labels) {
  Series& s = Add(name, help, Type::kGauge, std::move(labels));
  s.gauge = std::make_unique<Gauge>();
  return s.gauge.get();
}

Histogram* Registry::AddHistogram(const std::string& name, const std::string& help, Labels labels,
                                  std::vector<double> bounds) {
  Series& s = Add(name, help, Type::kHistogram, std::move(labels));
  s.histogram = std::make_unique<Histogram>(std::move(bounds));
  return s.histogram.get();
}

void Registry::AddCounterFn(const std::string& name, const std::string& help, Labels labels,
                            std::function<uint64_t()> read) {
  Add(name, help, Type::kCounter, std::move(labels)).counter_fn = std::move(read);
}

void Registry::AddGaugeFn(const std::string& name, const std::string& help, Labels labels,
                          std::function<double()> read) {
  Add(name, help, Type::kGauge, std::move(labels)).gauge_fn = std::move(read);
}

Snapshot Registry::Collect() const {
  std::lock_guard l(mu_);
  Snapshot out;
  out.reserve(families_.size());
  for (const auto& f : families_) {
    FamilySnapshot fs{f->name, f->help, f->type, {}};
    for (const auto& s : f->series) {
      SeriesSnapshot ss;
      ss.labels = s->labels;
      if (s->counter) ss.value = static_cast<double>(s->counter->Value());
      if (s->gauge) ss.value = static_cast<double>(s->gauge->Value());
      if (s->counter_fn) ss.value = static_cast<double>(s->counter_fn());
      if (s->gauge_fn) ss.value = s->gauge_fn();
      if (s->histogram) {
        ss.bounds = s->histogram->bounds();
        ss.sum = s->histogram->Sum();
        uint64_t running = 0;
        for (uint64_t n : s->histogram->BucketCounts()) ss.cumulative.push_back(running += n);
        ss.count = running;  // _count equals the +Inf bucket, as the format requires
      }
      if (s->hide_zero && ss.value == 0) continue;
      fs.series.push_back(std::move(ss));
    }
    out.push_back(std::move(fs));
  }
  return out;
}

}  // namespace s3m::metrics
