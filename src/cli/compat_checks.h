// The checks of the options Mountpoint 1.24 has beyond the basics: encryption, request
// headers, endpoint variants, interfaces, logging and OTLP. Same contract as
// config_checks.h: one line naming the option and the fix (kInvalidArgument, exit 2).
// Pure functions; any thread.
#pragma once

#include <string>

#include "cli/config.h"
#include "common/status.h"

namespace s3m {

// --sse, --sse-kms-key-id, --expected-bucket-owner, --user-agent-prefix, --bucket-type,
// --transfer-acceleration, --dual-stack, --bind, --no-log and --otlp-endpoint, alone and
// against each other.
Status CheckCompatOptions(const Config& c);

// "/dev/fd/N" as a mount point: N, or -1 when `path` is not of that form.
int FuseFdFromPath(const std::string& path);

}  // namespace s3m
