// FileHandle: one open file, owning its whole lifecycle: the reader or upload behind it,
// its waiters and its errors. FileSystem resolves names and keeps the table of handles;
// each open makes one handle of the kind its flags need:
//   ReadHandle (read_handle.h)         reads one version of an object (the prefetcher);
//   StreamWriteHandle (write_handle.h) uploads a new object from sequential writes;
//   StagedHandle (staged_handle.h)     changes an object at any offset, staged locally.
//   AdaptiveHandle (adaptive_handle.h) a new file: streams, and turns staged when it must.
// A method a kind does not support fails with kBadHandle (EBADF), as on a descriptor
// opened without that access.
//
// Threading: any method may be called from any FUSE worker, concurrently; each kind
// serializes what it must. Callbacks run exactly once, possibly inline. Close is the last
// call but one: after it, only the completion of work it started touches the handle.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "common/status.h"
#include "fs/object_reader.h"
#include "s3/object_client.h"

namespace s3m {

class Inode;

class FileHandle {
 public:
  explicit FileHandle(std::shared_ptr<Inode> inode) : inode_(std::move(inode)) {}
  virtual ~FileHandle() = default;
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;

  const std::shared_ptr<Inode>& inode() const { return inode_; }

  virtual void Read(uint64_t offset, uint64_t size, std::function<void(Result<ReadData>)> done);
  // Copies the data before returning; may wait for memory.
  virtual Result<uint64_t> Write(uint64_t offset, const char* data, uint64_t size);
  // Sets the file's size (ftruncate, or O_TRUNC on a staged file).
  virtual Status Truncate(uint64_t size);
  // The file's size as this handle sees it (written or staged bytes), or nullopt when the
  // handle does not change it.
  virtual std::optional<uint64_t> Size() const { return std::nullopt; }
  // Flush (each close of a descriptor) and Fsync make what was written durable in S3 and
  // report any error; a reading handle has nothing to do.
  virtual void Flush(Callback<Empty> done) { done(Empty{}); }
  virtual void Fsync(Callback<Empty> done) { done(Empty{}); }
  // The file is released: finish what must be finished (an upload), then call `closed`.
  virtual void Close(Callback<Empty> closed) { closed(Empty{}); }
  // --posix: the inode's metadata (mode, owner, times) changed while this handle writes
  // the file. Returns true when the handle will store it with the file's bytes; false when
  // it cannot (nothing to commit any more): the caller then stores it on the object.
  virtual bool MetadataChanged() { return false; }
  // The file was renamed: its object is now `key`, with the same bytes at `etag`.
  virtual void Moved(const std::string& /*key*/, const std::string& /*etag*/) {}
  // The open never reached the caller (its reply failed): drop everything, change nothing
  // in S3, and leave the inode as it was before the open.
  virtual void Discard() {}

 private:
  const std::shared_ptr<Inode> inode_;
};

}  // namespace s3m
