// StreamWriteHandle: a new object written sequentially from offset 0 (a created file, or an
// existing one opened with O_TRUNC), streamed to S3 by an ObjectWriter as the data arrives.
// The object appears in S3 only when the upload completes, at the first flush or fsync
// after data was written, or at close; the error of a failed upload is returned there. A
// write out of order spoils the file: it is never uploaded, and every later call fails.
//
// A flush with nothing written stores an empty object (touch, `echo x > f` whose shell
// flushes a dup'ed descriptor first) and keeps the handle writable: data written later
// replaces it.
//
// Under --posix the object is stored with its inode's metadata (mode, mtime): given to the
// writer before its first request; a change after that is stored by a CopyObject onto the
// new object once the upload completes.
//
// Threading: writes are serialized by write_mu_, held across ObjectWriter::Write (which
// may wait for memory). Lock order: write_mu_ -> mu_ -> Inode::mu. No lock is held across
// a client call or a callback.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "fs/file_handle.h"
#include "fs/object_writer.h"

namespace s3m {

struct FsCore;

// Lifetime: the upload's completion calls back into the handle, so its owner (the handle
// table while open, then the closing table) keeps it until Close's callback has run.
class StreamWriteHandle final : public FileHandle {
 public:
  StreamWriteHandle(std::shared_ptr<Inode> inode, FsCore& fs);
  ~StreamWriteHandle() override;

  Result<uint64_t> Write(uint64_t offset, const char* data, uint64_t size) override;
  Status Truncate(uint64_t size) override;
  std::optional<uint64_t> Size() const override;
  void Flush(Callback<Empty> done) override;
  void Fsync(Callback<Empty> done) override;
  void Close(Callback<Empty> closed) override;
  void Discard() override;
  // See ObjectWriter::TakeBack: the bytes written, if none has been sent yet; the handle
  // is spent then (AdaptiveHandle stages them instead).
  bool TakeBack(std::string* out);
  // Completes the upload (or takes the one a flush or fsync completed) for a handle that
  // goes on changing the object (AdaptiveHandle): the inode stays being written, and
  // `done` gets the object stored.
  void FinishForStaging(Callback<ObjectInfo> done);
  // Whether the upload is completing or complete (a flush, fsync or FinishForStaging).
  bool Finishing() const;
  // Whether a part has left for S3 (so TakeBack can no longer succeed).
  bool Sending() const;
  bool MetadataChanged() override;

 private:
  enum class Upload { kOpen, kFinishing, kDone };

  void FinishUpload(Callback<Empty> done);
  void CommitEmpty(Callback<Empty> done);
  // At close: true (and the upload finished) when the empty object a flush stored is the
  // file's final content, so no second request is needed.
  bool FinishCommittedEmpty();
  // Records the first failed write and abandons the upload; returns `error`.
  Status Spoil(Status error);
  void OnUploaded(const Result<ObjectInfo>& r);
  // Metadata changed after the upload had sent it: stored by a CopyObject onto itself.
  void StoreLateMeta(const ObjectInfo& stored);
  void Finished(const Result<ObjectInfo>& r);

  FsCore& fs_;
  ObjectWriter writer_;
  std::mutex write_mu_;  // serializes writer_.Write calls
  mutable std::mutex mu_;
  Upload upload_ = Upload::kOpen;                // GUARDED_BY(mu_)
  Status upload_status_;                         // GUARDED_BY(mu_)
  std::vector<Callback<Empty>> finish_waiters_;  // GUARDED_BY(mu_)
  Status write_error_;                           // GUARDED_BY(mu_)
  bool empty_committed_ = false;                 // GUARDED_BY(mu_)
  ObjectInfo empty_info_;                        // GUARDED_BY(mu_)
  bool discarded_ = false;                       // GUARDED_BY(mu_)
  bool late_meta_ = false;                       // GUARDED_BY(mu_): see MetadataChanged
  bool empty_applied_ = false;                   // GUARDED_BY(mu_): see Finished
  bool finalizing_ = false;                      // GUARDED_BY(mu_): OnUploaded has begun
  bool keep_writing_ = false;                    // GUARDED_BY(mu_): see FinishForStaging
  ObjectInfo stored_;                            // GUARDED_BY(mu_): the upload's result
};

}  // namespace s3m
