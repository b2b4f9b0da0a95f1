// FileSystem: the file system core. It maps inodes to S3 keys under an optional prefix and
// implements each file operation over an ObjectClient, returning Result<T>. It knows
// nothing of FUSE: src/fuse translates requests to these calls and results to replies.
//
// Semantics follow Mountpoint for Amazon S3 (docs/SEMANTICS.md is the contract).
//
// Threading: every method may be called from any thread, concurrently. Methods that may
// reach the network take a callback, which runs exactly once, on a client completion
// thread or inline before the method returns; callbacks must not block. Methods that
// return a value directly never wait on the network (Write may wait for memory).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "fs/object_reader.h"
#include "fs/object_writer.h"
#include "memory/memory_budget.h"
#include "s3/object_client.h"

namespace s3m {

using InodeId = uint64_t;
inline constexpr InodeId kRootInode = 1;  // FUSE_ROOT_ID

struct FsOptions {
  std::string prefix;  // "" or ending in '/'
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t file_mode = 0644;
  uint32_t dir_mode = 0755;
  bool read_only = false;
  bool allow_delete = false;
  bool allow_overwrite = false;
  // --incremental-upload: existing files may be opened for writing (appended to, or
  // replaced with O_TRUNC) as with allow_overwrite, but rename still replaces no file.
  bool incremental_upload = false;
  // --posix: modes, owners, times and symlinks are kept in object metadata, in s3fs-fuse's
  // format (posix_meta.h, docs/SEMANTICS.md); lookups and listings HEAD to learn them.
  bool posix = false;
  // How long attributes and directory entries stay valid (Mountpoint: 1 s by default;
  // "indefinite" is nanoseconds::max(), "minimal" is zero).
  std::chrono::nanoseconds metadata_ttl = std::chrono::seconds(1);
  std::chrono::nanoseconds negative_metadata_ttl = std::chrono::seconds(1);
  // Where files changed in place keep their local bytes (StagedHandle), and how many
  // bytes all of them may hold there; past it, writes fail with ENOSPC.
  std::string staging_dir = "/var/tmp";
  uint64_t staging_limit_bytes = 1ull << 30;
  // Rename: objects up to this size are copied by one CopyObject (S3's limit is 5 GiB),
  // larger ones by parallel UploadPartCopy parts of 256-512 MiB (the server copies those in
  // parallel: docs/BENCHMARKS.md); a directory of more objects than rename_max_objects is
  // refused with EXDEV (mv then moves it file by file).
  uint64_t copy_object_max_bytes = 256ull << 20;
  size_t rename_max_objects = 10000;
  ReaderOptions reader;
  WriterOptions writer;
  // The source of time for metadata expiry (tests inject a FakeClock). Not owned.
  Clock* clock = RealClock::Get();
  // Kept at the uploads in flight (s3mount_uploads_in_flight); not owned, null: none.
  metrics::Gauge* uploads_gauge = nullptr;
};

struct Attr {
  InodeId ino = 0;
  bool is_dir = false;
  uint64_t size = 0;
  int64_t mtime_sec = 0;  // atime and ctime are the same
  int32_t mtime_nsec = 0;
  uint32_t mode = 0;  // with S_IFDIR or S_IFREG
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 1;
};

// A directory entry handed to the kernel: `ttl` is both the entry and attribute timeout.
struct Entry {
  Attr attr;
  std::chrono::nanoseconds ttl{0};
};

struct DirEntry {
  std::string name;
  Attr attr;
  uint64_t next_offset = 0;  // the offset to pass to continue after this entry
};

// Who creates a file, directory or symlink (the caller's uid and gid, from FUSE): stored
// as its owner under --posix, as s3fs stores it.
struct Owner {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct OpenResult {
  uint64_t handle = 0;
  bool direct_io = false;
  bool keep_cache = false;
  uint64_t size = 0;  // the file's size at open
};

struct CreateResult {
  Entry entry;
  uint64_t handle = 0;
};

struct FsStats {
  uint64_t inodes = 0;
  uint64_t open_handles = 0;
};

class FileSystem {
 public:
  FileSystem(ObjectClient* client, BufferPool* pool, FsOptions options);
  ~FileSystem();

  // Entries returned by Lookup, Mkdir and Create count one kernel lookup each; Forget
  // returns them. AddLookup is for entries the adapter hands out through readdirplus.
  void Lookup(InodeId parent, const std::string& name, Callback<Entry> done);
  void AddLookup(InodeId ino);
  void Forget(InodeId ino, uint64_t nlookup);
  void GetAttr(InodeId ino, Callback<Attr> done);
  // What SetAttr changes (a mask): the fields of `want` to apply, or the time now.
  static constexpr unsigned kSetSize = 1;
  static constexpr unsigned kSetMode = 2;
  static constexpr unsigned kSetUid = 4;
  static constexpr unsigned kSetGid = 8;
  static constexpr unsigned kSetMtime = 16;
  static constexpr unsigned kSetMtimeNow = 32;
  // Truncation (`handle`: the file handle of an ftruncate, 0 for a path) changes the file
  // as an open, truncate and close would. Modes, owners and times are accepted and not
  // kept, unless --posix (file_system_posix.cc, docs/SEMANTICS.md).
  void SetAttr(InodeId ino, const Attr& want, unsigned to_set, uint64_t handle,
               Callback<Attr> done);

  Result<uint64_t> OpenDir(InodeId ino);
  // Entries from `offset` on (0 = start, including "." and ".."), at most `max_entries`.
  // An empty vector is the end of the directory.
  void ReadDir(InodeId ino, uint64_t handle, uint64_t offset, size_t max_entries,
               Callback<std::vector<DirEntry>> done);
  void ReleaseDir(InodeId ino, uint64_t handle);

  void Open(InodeId ino, int flags, Callback<OpenResult> done);
  void Create(InodeId parent, const std::string& name, uint32_t mode, int flags,
              Callback<CreateResult> done, std::optional<Owner> owner = std::nullopt);
  void Read(InodeId ino, uint64_t handle, uint64_t offset, uint64_t size,
            std::function<void(Result<ReadData>)> done);
  // Copies the data before returning; may wait for memory.
  Result<uint64_t> Write(InodeId ino, uint64_t handle, uint64_t offset, const char* data,
                         uint64_t size);
  // Flush and Fsync of a handle being written complete the upload and report its error.
  void Flush(InodeId ino, uint64_t handle, Callback<Empty> done);
  void Fsync(InodeId ino, uint64_t handle, Callback<Empty> done);
  void Release(InodeId ino, uint64_t handle, Callback<Empty> done);
  // Drops a handle whose open never reached the caller (the reply to the kernel failed):
  // nothing it would have written at close is written, and the inode is left as before.
  void Discard(InodeId ino, uint64_t handle);

  void Mkdir(InodeId parent, const std::string& name, uint32_t mode, Callback<Entry> done,
             std::optional<Owner> owner = std::nullopt);
  // --posix only (else kPermission): an object `name` holding `target`, with mode 0120777;
  // readlink reads it once and keeps it on the inode.
  void Symlink(InodeId parent, const std::string& name, const std::string& target,
               Callback<Entry> done, std::optional<Owner> owner = std::nullopt);
  void Readlink(InodeId ino, Callback<std::string> done);
  void Rmdir(InodeId parent, const std::string& name, Callback<Empty> done);
  void Unlink(InodeId parent, const std::string& name, Callback<Empty> done);
  // rename(2) by server-side copies and deletes (file_system_rename.cc). `flags`:
  // RENAME_NOREPLACE is honoured; RENAME_EXCHANGE (and anything else) is refused.
  void Rename(InodeId parent, const std::string& name, InodeId new_parent,
              const std::string& new_name, unsigned flags, Callback<Empty> done);

  // Waits until every upload of a closed file has finished (for a clean unmount).
  void DrainUploads();

  FsStats Stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace s3m
