#include "common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <syslog.h>
#include <unistd.h>

#include <ctime>

namespace s3m {

void InitLogging(LogTarget target, const std::string& directory, bool debug) {
  std::shared_ptr<spdlog::logger> logger;
  switch (target) {
    case LogTarget::kStderr:
      logger = spdlog::stderr_logger_mt("s3mount");
      break;
    case LogTarget::kSyslog:
      logger = spdlog::syslog_logger_mt("s3mount", "s3mount", LOG_PID, LOG_DAEMON);
      break;
    case LogTarget::kDirectory: {
      char name[64];
      std::time_t t = std::time(nullptr);
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::strftime(name, sizeof(name), "s3mount-%Y%m%dT%H%M%SZ", &tm);
      std::string path = directory + "/" + name + "-" + std::to_string(getpid()) + ".log";
      logger = spdlog::basic_logger_mt("s3mount", path);
      break;
    }
  }
  logger->set_level(debug ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  // Lines reach files and syslog within a couple of seconds even when nothing is wrong.
  spdlog::flush_every(std::chrono::seconds(2));
}

}  // namespace s3m
