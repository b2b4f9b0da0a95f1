// Start-up checks that need the system: files and directories that options and AWS
// variables name, and the variables' syntax. main() runs them before detaching, so that
// each failure is one line at once (exit 2) rather than a daemon that dies later or a
// safeguard that is quietly dropped. Called from main() only, before other threads exist.
#pragma once

#include <string>

#include "cli/config.h"
#include "common/status.h"
#include "s3/credentials.h"

namespace s3m {

// Creates the log directory if missing (as the logger would) and proves a file can be
// created in it.
Status CheckLogDirectory(const std::string& dir);

// --cache, when given: an existing directory this process can write.
Status CheckCacheDirectory(const Config& c);

// The staging directory (--staging-dir, else the --cache directory, else $TMPDIR or
// /var/tmp, set into `c`): an
// existing directory where a staging file can be created; and the default staging limit.
Status CheckStagingDirectory(Config& c, const GetEnvFn& getenv);

// --ca-bundle, else AWS_CA_BUNDLE, when set: a readable file holding PEM certificates.
Status CheckCaBundle(const Config& c, const GetEnvFn& getenv);

// AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION, AWS_MAX_ATTEMPTS,
// and the files AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE and AWS_WEB_IDENTITY_TOKEN_FILE
// name, when set.
Status CheckEnvironment(const GetEnvFn& getenv);

// Paths the daemon opens after it has moved to "/": made absolute while the caller's
// working directory still applies.
Status MakePathsAbsolute(Config& c);

}  // namespace s3m
