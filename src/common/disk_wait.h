// Whether the current thread may wait on the local disk for a moment. A FUSE worker
// answering a read may (the kernel waits for its answer anyway), so a cache hit is served
// on it, saving a hand-off to another thread; an S3 client's event loop, which serves every
// transfer of the mount, must not. Marked by the FUSE adapter around a read; false
// elsewhere.
#pragma once

namespace s3m {

bool ThreadMayWaitOnDisk();

// Marks the current thread for the life of the object.
class MayWaitOnDisk {
 public:
  MayWaitOnDisk();
  ~MayWaitOnDisk();
  MayWaitOnDisk(const MayWaitOnDisk&) = delete;
  MayWaitOnDisk& operator=(const MayWaitOnDisk&) = delete;

 private:
  bool was_;
};

}  // namespace s3m
