#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace s3m::metrics {
namespace {

const FamilySnapshot* Find(const Snapshot& s, const std::string& name) {
  for (const auto& f : s) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(Registry, CountersAndGaugesReadBackInRegistrationOrder) {
  Registry r;
  Counter* a = r.AddCounter("s3mount_a_total", "A", {{"op", "x"}});
  Counter* b = r.AddCounter("s3mount_a_total", "A", {{"op", "y"}});
  Gauge* g = r.AddGauge("s3mount_g", "G");
  a->Add(3);
  b->Add();
  g->Add(10);
  g->Add(-4);
  Snapshot s = r.Collect();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "s3mount_a_total");
  EXPECT_EQ(s[0].type, Type::kCounter);
  ASSERT_EQ(s[0].series.size(), 2u);
  EXPECT_EQ(s[0].series[0].labels, (Labels{{"op", "x"}}));
  EXPECT_EQ(s[0].series[0].value, 3);
  EXPECT_EQ(s[0].series[1].value, 1);
  EXPECT_EQ(s[1].series[0].value, 6);
  g->Set(-2);
  EXPECT_EQ(r.Collect()[1].series[0].value, -2);
}

TEST(Registry, HistogramBucketsAreLessOrEqualAndCumulative) {
  Registry r;
  Histogram* h = r.AddHistogram("s3mount_h_seconds", "H", {}, {0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 100.0}) h->Observe(v);
  Snapshot snap = r.Collect();
  const FamilySnapshot* f = Find(snap, "s3mount_h_seconds");
  ASSERT_NE(f, nullptr);
  const SeriesSnapshot& s = f->series.at(0);
  // 0.1 and 1.0 fall in the bucket whose bound they equal.
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 4, 5, 6}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_DOUBLE_EQ(s.sum, 106.65);
}

TEST(Registry, FunctionsAreReadAtCollection) {
  Registry r;
  uint64_t waits = 1;
  double used = 2.5;
  r.AddCounterFn("s3mount_waits_total", "W", {}, [&] { return waits; });
  r.AddGaugeFn("s3mount_used_bytes", "U", {}, [&] { return used; });
  waits = 7;
  used = 9;
  Snapshot s = r.Collect();
  EXPECT_EQ(Find(s, "s3mount_waits_total")->series[0].value, 7);
  EXPECT_EQ(Find(s, "s3mount_used_bytes")->series[0].value, 9);
}

TEST(Registry, HiddenZeroSeriesAppearOnceCounted) {
  Registry r;
  Counter* c = r.AddCounter("s3mount_e_total", "E", {{"errno", "ENOENT"}}, true);
  r.AddCounter("s3mount_e_total", "E", {{"errno", "EIO"}}, true);
  EXPECT_TRUE(Find(r.Collect(), "s3mount_e_total")->series.empty());
  c->Add();
  auto s = Find(r.Collect(), "s3mount_e_total")->series;
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].labels[0].second, "ENOENT");
}

TEST(Registry, ConcurrentCountsAreAllKept) {
  Registry r;
  Counter* c = r.AddCounter("s3mount_c_total", "C");
  Histogram* h = r.AddHistogram("s3mount_h", "H", {}, LatencyBuckets());
  std::vector<std::thread> threads;
  constexpr int kThreads = 4, kEach = 100000;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; i++) {
        c->Add();
        h->Observe(0.003);
      }
    });
  }
  // Snapshots taken meanwhile stay consistent: _count is the +Inf bucket.
  for (int i = 0; i < 100; i++) {
    Snapshot snap = r.Collect();
    const auto& s = Find(snap, "s3mount_h")->series[0];
    EXPECT_EQ(s.count, s.cumulative.back());
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->Value(), uint64_t{kThreads} * kEach);
  EXPECT_EQ(h->Count(), uint64_t{kThreads} * kEach);
}

TEST(RegistryDeathTest, RejectsInvalidNamesAndDuplicates) {
  Registry r;
  EXPECT_DEATH(r.AddCounter("bad-name", "x"), "invalid metric name");
  EXPECT_DEATH(r.AddCounter("ok_total", "x", {{"le", "1"}}), "invalid label name");
  r.AddCounter("dup_total", "x", {{"a", "1"}});
  EXPECT_DEATH(r.AddCounter("dup_total", "x", {{"a", "1"}}), "registered twice");
  EXPECT_DEATH(r.AddGauge("dup_total", "x"), "different types");
}

}  // namespace
}  // namespace s3m::metrics
