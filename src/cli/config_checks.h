// The checks of a command line that need no system call: value syntax and ranges, options
// that contradict each other, names. Each failure is one line naming the option and the fix
// (kInvalidArgument, exit 2). Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "cli/config.h"
#include "common/status.h"

namespace s3m {

// "0644" or "644": an octal mode of at most 07777.
Result<uint32_t> ParseMode(const std::string& value, const std::string& option);

// --memory-target in MiB as bytes; 0 when not given (the default applies). Given, it must
// lie in [kMinMemoryTargetMiB, kMaxMemoryTargetMiB].
Result<uint64_t> MemoryTargetBytes(uint64_t mib, bool given);

// An S3 endpoint: http(s)://HOST[:PORT], nothing after the host but '/'. `source` names the
// option or variable it came from, for the message.
Status CheckEndpointUrl(const std::string& url, const std::string& source);

// Letters, digits, '-' and '_' (region names go into host names and the signature's scope).
Status CheckRegion(const std::string& region, const std::string& source);

// The whole Config: splits s3://BUCKET/PREFIX/ and checks the bucket name, the prefix, part
// sizes, the endpoint URL, the region, the numbers and the options that exclude each other.
Status ValidateConfig(Config& c);

}  // namespace s3m
