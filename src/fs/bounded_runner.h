// RunBounded: runs tasks 0..count-1, at most `max_in_flight` at a time, each reporting its
// end through the callback it is given; stops starting tasks after the first error, and
// calls `done` once, with that error or ok, when no task is running any more.
// Thread-safe: task callbacks may run on any thread, or inline.
#pragma once

#include <functional>
#include <memory>

#include "s3/object_client.h"

namespace s3m {

using BoundedTask = std::function<void(size_t index, Callback<Empty> finished)>;

void RunBounded(size_t count, int max_in_flight, BoundedTask task, Callback<Empty> done);

}  // namespace s3m
