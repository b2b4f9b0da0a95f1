#include "metrics/text_format.h"

#include <gtest/gtest.h>

namespace s3m::metrics {
namespace {

TEST(TextFormat, CountersGaugesAndHistograms) {
  Registry r;
  r.AddCounter("s3mount_req_total", "Requests", {{"operation", "GetObject"}, {"status", "2xx"}})
      ->Add(12);
  r.AddGauge("s3mount_used_bytes", "Bytes in use")->Set(1048576);
  Histogram* h = r.AddHistogram("s3mount_lat_seconds", "Latency", {{"op", "read"}}, {0.01, 0.1});
  h->Observe(0.005);
  h->Observe(0.25);
  EXPECT_EQ(FormatText(r.Collect()),
            "# HELP s3mount_req_total Requests\n"
            "# TYPE s3mount_req_total counter\n"
            "s3mount_req_total{operation=\"GetObject\",status=\"2xx\"} 12\n"
            "# HELP s3mount_used_bytes Bytes in use\n"
            "# TYPE s3mount_used_bytes gauge\n"
            "s3mount_used_bytes 1048576\n"
            "# HELP s3mount_lat_seconds Latency\n"
            "# TYPE s3mount_lat_seconds histogram\n"
            "s3mount_lat_seconds_bucket{op=\"read\",le=\"0.01\"} 1\n"
            "s3mount_lat_seconds_bucket{op=\"read\",le=\"0.1\"} 1\n"
            "s3mount_lat_seconds_bucket{op=\"read\",le=\"+Inf\"} 2\n"
            "s3mount_lat_seconds_sum{op=\"read\"} 0.255\n"
            "s3mount_lat_seconds_count{op=\"read\"} 2\n");
}

TEST(TextFormat, EscapesHelpAndLabelValues) {
  Registry r;
  r.AddCounter("s3mount_x_total", "a \\ b\nc \"q\"", {{"key", "a\"b\\c\nd"}})->Add();
  EXPECT_EQ(FormatText(r.Collect()),
            "# HELP s3mount_x_total a \\\\ b\\nc \"q\"\n"
            "# TYPE s3mount_x_total counter\n"
            "s3mount_x_total{key=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(TextFormat, FamiliesWithNoVisibleSeriesAreLeftOut) {
  Registry r;
  r.AddCounter("s3mount_e_total", "E", {{"errno", "EIO"}}, /*hide_zero=*/true);
  EXPECT_EQ(FormatText(r.Collect()), "");
}

TEST(TextFormat, Values) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(1e15), "1000000000000000");
  EXPECT_EQ(FormatValue(0.5), "0.5");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(0.0 / 0.0), "NaN");
}

TEST(TextFormat, FlattenKeepsCountAndSumOfHistograms) {
  Registry r;
  r.AddCounter("s3mount_c_total", "C", {{"op", "a"}})->Add(2);
  r.AddHistogram("s3mount_h_seconds", "H", {}, {1})->Observe(0.5);
  auto flat = Flatten(r.Collect());
  EXPECT_EQ(flat.size(), 3u);
  EXPECT_EQ(flat.at("s3mount_c_total{op=\"a\"}"), 2);
  EXPECT_EQ(flat.at("s3mount_h_seconds_count"), 1);
  EXPECT_EQ(flat.at("s3mount_h_seconds_sum"), 0.5);
}

}  // namespace
}  // namespace s3m::metrics
