#include "metrics/otlp_exporter.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace s3m::metrics {
namespace {

using nlohmann::json;

const json* FindMetric(const json& body, const std::string& name) {
  for (const json& m : body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]) {
    if (m["name"] == name) return &m;
  }
  return nullptr;
}

TEST(OtlpJsonTest, SumsGaugesAndHistogramsInTheOtlpJsonMapping) {
  Registry r;
  r.AddCounter("s3mount_x_total", "xs", {{"operation", "GetObject"}})->Add(7);
  r.AddGauge("s3mount_g", "a gauge")->Set(-3);
  Histogram* h = r.AddHistogram("s3mount_d_seconds", "durations", {{"op", "read"}}, {0.1, 1});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(0.6);
  h->Observe(5);
  json body = json::parse(OtlpJson(r.Collect(), 100, 200));

  const json& resource = body["resourceMetrics"][0]["resource"]["attributes"][0];
  EXPECT_EQ(resource["key"], "service.name");
  EXPECT_EQ(resource["value"]["stringValue"], "s3mount");

  const json* sum = FindMetric(body, "s3mount_x_total");
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ((*sum)["description"], "xs");
  EXPECT_EQ((*sum)["sum"]["aggregationTemporality"], 2);
  EXPECT_EQ((*sum)["sum"]["isMonotonic"], true);
  const json& p = (*sum)["sum"]["dataPoints"][0];
  EXPECT_EQ(p["asInt"], "7");  // int64 as a string
  EXPECT_EQ(p["startTimeUnixNano"], "100");
  EXPECT_EQ(p["timeUnixNano"], "200");
  EXPECT_EQ(p["attributes"][0]["key"], "operation");
  EXPECT_EQ(p["attributes"][0]["value"]["stringValue"], "GetObject");

  const json* gauge = FindMetric(body, "s3mount_g");
  ASSERT_NE(gauge, nullptr);
  EXPECT_EQ((*gauge)["gauge"]["dataPoints"][0]["asDouble"], -3.0);

  const json* hist = FindMetric(body, "s3mount_d_seconds");
  ASSERT_NE(hist, nullptr);
  const json& hp = (*hist)["histogram"]["dataPoints"][0];
  EXPECT_EQ((*hist)["histogram"]["aggregationTemporality"], 2);
  EXPECT_EQ(hp["count"], "4");
  EXPECT_DOUBLE_EQ(hp["sum"].get<double>(), 6.15);
  EXPECT_EQ(hp["explicitBounds"], json::array({0.1, 1.0}));
  EXPECT_EQ(hp["bucketCounts"], json::array({"1", "2", "1"}));  // per bucket, not cumulative
}

TEST(OtlpExporterTest, AFailedExportIsLoggedOnceWithTheUrl) {
  Registry r;
  r.AddCounter("s3mount_x_total", "xs");
  std::vector<std::string> lines;
  {
    // Port 9 on loopback: nothing listens, so each export fails at once.
    OtlpExporter e(&r, "http://127.0.0.1:9/", std::chrono::milliseconds(20),
                   [&lines](const std::string& l) { lines.push_back(l); });
    EXPECT_EQ(e.url(), "http://127.0.0.1:9/v1/metrics");
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  ASSERT_EQ(lines.size(), 1u);  // several exports failed; one line says so
  EXPECT_NE(lines[0].find("http://127.0.0.1:9/v1/metrics"), std::string::npos) << lines[0];
}

}  // namespace
}  // namespace s3m::metrics
