// Logging through spdlog. main() configures the sinks (syslog, files or stderr) once,
// before any other thread starts; after that every thread may log.
// Never log credentials or signatures.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace s3m {

enum class LogTarget { kStderr, kSyslog, kDirectory };

// Sets up the default logger. `directory` is used with kDirectory.
void InitLogging(LogTarget target, const std::string& directory, bool debug);

}  // namespace s3m

#define S3M_DEBUG(...) spdlog::debug(__VA_ARGS__)
// Per-operation tracing (-d): formats nothing unless debug logging is on.
#define S3M_TRACE_OP(...)                                                     \
  do {                                                                        \
    if (spdlog::should_log(spdlog::level::debug)) spdlog::debug(__VA_ARGS__); \
  } while (0)
#define S3M_INFO(...) spdlog::info(__VA_ARGS__)
#define S3M_WARN(...) spdlog::warn(__VA_ARGS__)
#define S3M_ERROR(...) spdlog::error(__VA_ARGS__)
