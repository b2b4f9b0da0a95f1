// OtlpExporter (--otlp-endpoint): sends the registry's series to an OpenTelemetry collector
// by OTLP/HTTP with the JSON encoding (POST ENDPOINT/v1/metrics), every interval and once
// more when it stops. Counters become cumulative monotonic sums, gauges gauges, histograms
// explicit-bucket histograms, under the same names and labels as the Prometheus endpoint.
//
// Threading: one thread of its own collects snapshots (registry.h) and sends them with a
// blocking request (FetchBlocking), off every data path; the constructor and destructor
// are called by one thread. The registry must outlive it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "metrics/registry.h"

namespace s3m::metrics {

// The OTLP JSON body (ExportMetricsServiceRequest) for a snapshot: 64-bit integers as
// strings and enums as numbers, as the OTLP/HTTP JSON mapping requires. Pure.
std::string OtlpJson(const Snapshot& snapshot, int64_t start_unix_nanos, int64_t now_unix_nanos);

class OtlpExporter {
 public:
  // `endpoint` is the collector's base URL (http://HOST:4318); `log` receives one line
  // when an export fails and one when exports work again (default: the log).
  OtlpExporter(const Registry* registry, std::string endpoint, std::chrono::milliseconds period,
               std::function<void(const std::string&)> log = nullptr);
  ~OtlpExporter();  // exports once more, then stops
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  const std::string& url() const { return url_; }

 private:
  void Export();
  void Run(std::chrono::milliseconds period);

  const Registry* registry_;
  const std::string url_;
  std::function<void(const std::string&)> log_;
  const int64_t start_nanos_;
  bool failing_ = false;  // only the exporter's thread (then the destructor, after join)
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace s3m::metrics
