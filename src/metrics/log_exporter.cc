#include "metrics/log_exporter.h"

#include "common/log.h"
#include "metrics/text_format.h"

namespace s3m::metrics {

std::vector<std::string> ChangedLines(const std::map<std::string, double>& before,
                                      const std::map<std::string, double>& now) {
  std::vector<std::string> out;
  for (const auto& [series, value] : now) {
    auto it = before.find(series);
    bool changed = it == before.end() ? value != 0 : it->second != value;
    if (changed) out.push_back(series + ' ' + FormatValue(value));
  }
  return out;
}

LogExporter::LogExporter(const Registry* registry, std::chrono::milliseconds period,
                         std::function<void(const std::string&)> log)
    : registry_(registry), log_(std::move(log)) {
  if (!log_) log_ = [](const std::string& line) { S3M_INFO("metrics: {}", line); };
  thread_ = std::thread([this, period] { Run(period); });
}

LogExporter::~LogExporter() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  Report();
}

void LogExporter::Report() {
  auto now = Flatten(registry_->Collect());
  for (const std::string& line : ChangedLines(last_, now)) log_(line);
  last_ = std::move(now);
}

void LogExporter::Run(std::chrono::milliseconds period) {
  std::unique_lock l(mu_);
  while (!cv_.wait_for(l, period, [this] { return stop_; })) {
    l.unlock();
    Report();
    l.lock();
  }
}

}  // namespace s3m::metrics
