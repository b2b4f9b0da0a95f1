// FsCore: what the parts of the file system core share: the object client, the buffer
// pool, the options, the clock, the inode table, and the count of uploads in flight (for a
// clean unmount). FileSystem::Impl extends it with the handle tables; the file handles
// (file_handle.h) get it by reference, and it outlives them all.
// Threading: the members are thread-safe or immutable; uploads_mu_ is a leaf lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "common/clock.h"
#include "fs/file_system.h"
#include "fs/inode_table.h"

namespace s3m {

struct FsCore {
  FsCore(ObjectClient* client, BufferPool* pool, FsOptions options);

  MonoTime Now() const { return clock->Monotonic(); }
  MonoTime Expiry() const { return ExpiryAfter(Now(), options.metadata_ttl); }
  int64_t WallSeconds() const;
  // The user metadata a write of a file stores: what its inode holds (the base's, with
  // local changes) and, under --posix, mtime now unless a utimes set it while open.
  Metadata MetaToStore(const InodeState& s) const;

  // Local bytes of staged files (FsOptions::staging_limit_bytes): false when `bytes` more
  // would pass the limit.
  bool ReserveStaging(uint64_t bytes);
  void ReleaseStaging(uint64_t bytes);

  // How a staged commit's PutObject carries its If-Match (staged_commit.cc): the forms in
  // order of preference; a store that refuses one for an unchanged object moves the mount on.
  static constexpr int kIfMatchQuoted = 0;
  static constexpr int kIfMatchBare = 1;
  static constexpr int kIfMatchNone = 2;
  std::atomic<int> if_match_form{kIfMatchQuoted};

  // An upload that DrainUploads waits for.
  void BeginUpload();
  void EndUpload();
  void WaitForUploads();

  ObjectClient* const client;
  BufferPool* const pool;
  const FsOptions options;
  Clock* const clock;
  const int64_t mount_time_sec;  // directories' times
  InodeTable table;

 private:
  std::mutex uploads_mu_;
  std::condition_variable uploads_cv_;
  int uploads_in_flight_ = 0;  // GUARDED_BY(uploads_mu_)
  std::atomic<uint64_t> staged_bytes_{0};
};

}  // namespace s3m
