// LogExporter (--log-metrics): writes the series that changed since the last period to the
// log, one line each, every few seconds, as Mountpoint's --log-metrics does; a last
// report is written when it stops, so a short-lived mount still leaves its counts.
//
// Threading: one thread of its own reads registry snapshots (registry.h) and logs; the
// constructor and destructor are called by one thread. The registry must outlive it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "metrics/registry.h"

namespace s3m::metrics {

// Mountpoint logs its metrics every 5 seconds; the same period keeps logs comparable.
inline constexpr std::chrono::seconds kLogMetricsPeriod{5};

// The lines for the series whose value differs from `before` (or is new and non-zero),
// "NAME{LABELS} VALUE", sorted by series. Pure; the exporter's core, tested alone.
std::vector<std::string> ChangedLines(const std::map<std::string, double>& before,
                                      const std::map<std::string, double>& now);

class LogExporter {
 public:
  // `log` receives each line; the default writes it to the log with S3M_INFO.
  LogExporter(const Registry* registry, std::chrono::milliseconds period,
              std::function<void(const std::string&)> log = nullptr);
  ~LogExporter();  // logs what changed since the last period, then stops
  LogExporter(const LogExporter&) = delete;
  LogExporter& operator=(const LogExporter&) = delete;

 private:
  void Report();
  void Run(std::chrono::milliseconds period);

  const Registry* registry_;
  std::function<void(const std::string&)> log_;
  std::map<std::string, double> last_;  // only the exporter's thread (and the destructor's
                                        // final report, after it joined) touches it
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace s3m::metrics
