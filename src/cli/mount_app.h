// RunMount: builds the pieces (credentials, transport, S3 client, memory budget, file
// system, FUSE session) from a Config, checks the bucket answers, mounts, serves until
// unmounted or signalled, and shuts down without losing uploads of closed files.
#pragma once

#include "cli/config.h"
#include "cli/daemon.h"

namespace s3m {

// The process exit code.
int RunMount(const Config& config, StartupReporter& reporter);

}  // namespace s3m
