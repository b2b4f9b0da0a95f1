// The one map from Status codes to errno values returned through FUSE.
// Pure function; any thread.
#pragma once

#include "common/status.h"

namespace s3m {

// A positive errno for a non-ok status (0 for ok).
int ToErrno(const Status& status);

}  // namespace s3m
