// BlockFiles: the cache's one door to the local disk, so that tests can stand in a disk
// that fails, fills up or damages what it holds (leveldb's Env).
//
// Names are relative to the cache's root, one level of folders deep ("ab/abcd...ef"). Files
// are sparse: a writer writes parts of them at offsets and frees parts (punches holes).
// Thread-safe: any method from any thread.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace s3m {

struct StoredFile {
  std::string name;
  uint64_t bytes = 0;            // the file's length
  uint64_t allocated_bytes = 0;  // the disk it takes (holes take none)
  int64_t mtime_ns = 0;          // when it was last written
};

// Whether a write leaves its bytes in the kernel's page cache (they are read again soon)
// or writes them past it (O_DIRECT, where the file system and the pieces' alignment allow).
enum class PageCache { kKeep, kBypass };

struct DiskSpace {
  uint64_t free_bytes = 0;  // available to us (statvfs f_bavail)
  uint64_t total_bytes = 0;
};

// A file open for reading; closed when the last holder lets go (a removed file's space is
// freed then).
class BlockFile {
 public:
  virtual ~BlockFile() = default;
  // Reads from `offset` into the pieces, in order: the bytes read (short at the end of the
  // file).
  virtual Result<uint64_t> Read(uint64_t offset, const std::vector<iovec>& pieces) = 0;
  // Where the first byte of data at or after `offset` is (holes skipped; SEEK_DATA);
  // kNotFound if there is none. A file system that cannot tell holes answers `offset`.
  virtual Result<uint64_t> NextData(uint64_t offset) = 0;
};

class BlockFiles {
 public:
  virtual ~BlockFiles() = default;

  // Writes the pieces into file `name` from `offset`, creating the file (and its folder)
  // if missing. Not atomic: after a failure or a crash the range may hold part of the
  // pieces, so what is read back must be checked (the cache's CRCs do).
  virtual Status WriteAt(const std::string& name, uint64_t offset,
                         const std::vector<iovec>& pieces, PageCache page_cache) = 0;
  // Frees `length` bytes of file `name` from `offset` (4 KiB-aligned): they read as zeros
  // and take no disk. The file's length is kept.
  virtual Status Punch(const std::string& name, uint64_t offset, uint64_t length) = 0;
  // Opens file `name` for reading; kNotFound if there is no such file.
  virtual Result<std::shared_ptr<BlockFile>> Open(const std::string& name) = 0;
  virtual void Remove(const std::string& name) = 0;
  // Every file under the root (but its lock).
  virtual std::vector<StoredFile> List() = 0;
  virtual Result<DiskSpace> Space() = 0;
};

// The files under `root`, which is created if missing. Only one process may use a root at a
// time (an flock held while the object lives): a second gets a clear error, as does a root
// on a file system that cannot punch holes.
Result<std::unique_ptr<BlockFiles>> OpenPosixBlockFiles(const std::string& root);

}  // namespace s3m
