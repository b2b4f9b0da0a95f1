#include "common/disk_wait.h"

namespace s3m {
namespace {
thread_local bool may_wait = false;
}  // namespace

bool ThreadMayWaitOnDisk() { return may_wait; }

MayWaitOnDisk::MayWaitOnDisk() : was_(may_wait) { may_wait = true; }

MayWaitOnDisk::~MayWaitOnDisk() { may_wait = was_; }

}  // namespace s3m
