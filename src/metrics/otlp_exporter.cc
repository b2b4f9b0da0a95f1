#include "metrics/otlp_exporter.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "http/http_client.h"

namespace s3m::metrics {
namespace {

using nlohmann::json;

// OTLP's AGGREGATION_TEMPORALITY_CUMULATIVE: values count from the daemon's start.
constexpr int kCumulative = 2;
// One export is a few tens of KiB to a collector nearby; a slow one must not pile up.
constexpr std::chrono::milliseconds kExportTimeout{10000};

int64_t UnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json Attributes(const Labels& labels) {
  json out = json::array();
  for (const auto& [k, v] : labels) out.push_back({{"key", k}, {"value", {{"stringValue", v}}}});
  return out;
}

json Point(const SeriesSnapshot& s, const std::string& start, const std::string& now) {
  return {
      {"attributes", Attributes(s.labels)}, {"startTimeUnixNano", start}, {"timeUnixNano", now}};
}

json Metric(const FamilySnapshot& f, const std::string& start, const std::string& now) {
  json points = json::array();
  for (const SeriesSnapshot& s : f.series) {
    json p = Point(s, start, now);
    switch (f.type) {
      case Type::kCounter:
        p["asInt"] = std::to_string(static_cast<uint64_t>(s.value));
        break;
      case Type::kGauge:
        p["asDouble"] = s.value;
        break;
      case Type::kHistogram: {
        // The snapshot's counts are cumulative (Prometheus); OTLP's are per bucket.
        json counts = json::array();
        uint64_t below = 0;
        for (uint64_t c : s.cumulative) {
          counts.push_back(std::to_string(c - below));
          below = c;
        }
        p["count"] = std::to_string(s.count);
        p["sum"] = s.sum;
        p["bucketCounts"] = counts;
        p["explicitBounds"] = s.bounds;
        break;
      }
    }
    points.push_back(std::move(p));
  }
  json m = {{"name", f.name}, {"description", f.help}};
  switch (f.type) {
    case Type::kCounter:
      m["sum"] = {
          {"dataPoints", points}, {"aggregationTemporality", kCumulative}, {"isMonotonic", true}};
      break;
    case Type::kGauge:
      m["gauge"] = {{"dataPoints", points}};
      break;
    case Type::kHistogram:
      m["histogram"] = {{"dataPoints", points}, {"aggregationTemporality", kCumulative}};
      break;
  }
  return m;
}

}  // namespace

std::string OtlpJson(const Snapshot& snapshot, int64_t start_unix_nanos, int64_t now_unix_nanos) {
  std::string start = std::to_string(start_unix_nanos), now = std::to_string(now_unix_nanos);
  json metrics = json::array();
  for (const FamilySnapshot& f : snapshot) {
    if (!f.series.empty()) metrics.push_back(Metric(f, start, now));
  }
  json resource = {{"attributes", Attributes({{"service.name", "s3mount"}})}};
  json scope = {{"scope", {{"name", "s3mount"}}}, {"metrics", metrics}};
  json body = {{"resourceMetrics",
                json::array({{{"resource", resource}, {"scopeMetrics", json::array({scope})}}})}};
  return body.dump();
}

OtlpExporter::OtlpExporter(const Registry* registry, std::string endpoint,
                           std::chrono::milliseconds period,
                           std::function<void(const std::string&)> log)
    : registry_(registry),
      url_([&endpoint] {
        while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
        return endpoint + "/v1/metrics";
      }()),
      log_(std::move(log)),
      start_nanos_(UnixNanos()) {
  if (!log_) log_ = [](const std::string& line) { S3M_WARN("{}", line); };
  thread_ = std::thread([this, period] { Run(period); });
}

OtlpExporter::~OtlpExporter() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  Export();
}

void OtlpExporter::Export() {
  SimpleHttpRequest req;
  req.method = "POST";
  req.url = url_;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = OtlpJson(registry_->Collect(), start_nanos_, UnixNanos());
  req.timeout = kExportTimeout;
  HttpResponse r = FetchBlocking(req);
  bool ok = r.transport.ok() && r.status >= 200 && r.status < 300;
  if (!ok && !failing_) {
    log_(fmt::format("OTLP export to {} failed: {} (retrying every period)", url_,
                     r.transport.ok() ? fmt::format("HTTP {}", r.status) : r.transport.ToString()));
  } else if (ok && failing_) {
    log_(fmt::format("OTLP export to {} works again", url_));
  }
  failing_ = !ok;
}

void OtlpExporter::Run(std::chrono::milliseconds period) {
  std::unique_lock l(mu_);
  while (!cv_.wait_for(l, period, [this] { return stop_; })) {
    l.unlock();
    Export();
    l.lock();
  }
}

}  // namespace s3m::metrics
