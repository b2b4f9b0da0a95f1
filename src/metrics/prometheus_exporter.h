// PrometheusExporter: serves GET /metrics in the Prometheus text format (text_format.h)
// over HTTP with libmicrohttpd (the only file that includes microhttpd.h).
//
// Threading: Start() and the destructor are called by one thread (main's). Scrapes are
// answered on libmicrohttpd's own polling thread, one at a time; each takes a Snapshot of
// the registry (registry.h), so a scrape never holds a data-path lock. The registry must
// outlive the exporter.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "metrics/registry.h"

namespace s3m::metrics {

class PrometheusExporter {
 public:
  // Listens on address:port (an IPv4 or IPv6 literal; port 0 picks a free port) and serves
  // until destroyed. Errors name `option` ("--prometheus-port 9100: cannot listen on
  // 127.0.0.1:9100: Address already in use").
  static Result<std::unique_ptr<PrometheusExporter>> Start(const Registry* registry,
                                                           const std::string& address,
                                                           uint16_t port,
                                                           const std::string& option);
  ~PrometheusExporter();
  PrometheusExporter(const PrometheusExporter&) = delete;
  PrometheusExporter& operator=(const PrometheusExporter&) = delete;

  uint16_t port() const { return port_; }  // the port bound (useful with port 0)

 private:
  PrometheusExporter() = default;
  struct Daemon;
  std::unique_ptr<Daemon> daemon_;
  uint16_t port_ = 0;
};

}  // namespace s3m::metrics
