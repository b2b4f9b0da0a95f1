// StagedHandle: a file changed at any offset: an existing object opened for writing
// without O_TRUNC (O_APPEND, O_RDWR, dd conv=notrunc), or a new file opened O_RDWR.
//
// Only what changed is kept locally, in a sparse StagingFile; unchanged bytes are read
// from the version seen at open (the "base", pinned by its ETag), so opening a 100 GiB
// object to append downloads nothing. Reads merge the two. Local bytes are charged to the
// staging budget (FsCore::ReserveStaging); past it, writes fail with kNoSpace (ENOSPC).
//
// Flush, fsync and close commit the new version (staged_commit.cc): PlanUpload decides
// which parts the server copies from the base (UploadPartCopy) and which are uploaded.
// The final request carries If-Match with the base's ETag, and every copy and GET of the
// base does too, so an object that changed in S3 since open is never replaced: the commit
// fails with kPreconditionFailed and the staged bytes stay for another try. No partial
// object is ever visible: a failed multipart upload is aborted.
//
// Every commit keeps the object's user metadata (s3fs's mode, owner, times; anyone's
// x-amz-meta-*): the inode's when known, else the base's, read by the HEAD that checks the
// base (a multipart commit sends that HEAD first, as the upload is created with it).
//
// Threading: mu_ guards the state; writes wait (cv_) while a commit runs, so a commit
// uploads one consistent version. Lock order: mu_ -> Inode::mu. No lock is held across
// a client call, the staging file's I/O in a commit, or a callback.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fs/extent_set.h"
#include "fs/file_handle.h"
#include "fs/inode_table.h"
#include "fs/staging_file.h"

namespace s3m {

struct FsCore;

class StagedHandle final : public FileHandle {
 public:
  // `base`: the version opened (ETag and size), or null for a new file.
  static Result<std::shared_ptr<StagedHandle>> Open(std::shared_ptr<Inode> inode, FsCore& fs,
                                                    const ObjectInfo* base);
  ~StagedHandle() override;

  void Read(uint64_t offset, uint64_t size, std::function<void(Result<ReadData>)> done) override;
  Result<uint64_t> Write(uint64_t offset, const char* data, uint64_t size) override;
  Status Truncate(uint64_t size) override;
  std::optional<uint64_t> Size() const override;
  void Flush(Callback<Empty> done) override { Commit(std::move(done)); }
  void Fsync(Callback<Empty> done) override { Commit(std::move(done)); }
  void Close(Callback<Empty> closed) override;
  void Discard() override;
  // Its bytes were stored before the rename; later changes would go to the old key.
  void Moved(const std::string&, const std::string&) override;
  // The next commit stores the new metadata (with the bytes, even if none changed).
  bool MetadataChanged() override;

  StagedHandle(std::shared_ptr<Inode> inode, FsCore& fs, std::unique_ptr<StagingFile> file,
               const ObjectInfo* base);

 private:
  struct Upload;  // one commit in flight (staged_commit.cc)

  // What a commit uploads, taken under mu_ (writes wait until it ends).
  struct Version {
    uint64_t size = 0;
    uint64_t base_end = 0;  // bytes below it that were not written are the base's
    std::string base_etag;  // empty: no base
    uint64_t base_size = 0;
    ExtentSet written;
  };

  void Commit(Callback<Empty> done);
  void PutWhole(std::shared_ptr<Upload> u);
  void Put(const std::shared_ptr<Upload>& u, std::shared_ptr<Buffer> buf, uint64_t size);
  // Fails with kPreconditionFailed when S3 no longer holds the base (see staged_commit.cc).
  // Also learns the base's metadata when the inode did not know it.
  void CheckBase(const std::shared_ptr<Upload>& u, Callback<Empty> then);
  void Complete(const std::shared_ptr<Upload>& u, std::function<void(Status)> abort);
  void StartMultipart(std::shared_ptr<Upload> u);
  void PumpParts(std::shared_ptr<Upload> u);
  void StartPart(std::shared_ptr<Upload> u, size_t i);
  void FinishMultipart(std::shared_ptr<Upload> u);
  void OnCommitted(const Result<ObjectInfo>& r);
  void RecordStoredMeta(InodeState& st, const Metadata& stored) const;
  // Fills [start, end) of the version into `out`: the base's bytes from S3, then the local
  // ones over them; runs `done` on a client thread.
  void Assemble(std::shared_ptr<const Version> v, uint64_t start, uint64_t end, char* out,
                Callback<Empty> done);
  Status ReadLocal(const Version& v, uint64_t start, uint64_t end, char* out) const;
  void ResetBaseReader();

  FsCore& fs_;
  const std::unique_ptr<StagingFile> file_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Version v_;                                    // GUARDED_BY(mu_)
  bool dirty_ = false;                           // GUARDED_BY(mu_): differs from S3
  bool committing_ = false;                      // GUARDED_BY(mu_)
  std::vector<Callback<Empty>> commit_waiters_;  // GUARDED_BY(mu_)
  uint64_t reserved_ = 0;                        // GUARDED_BY(mu_): staging budget held
  std::shared_ptr<ObjectReader> base_reader_;    // GUARDED_BY(mu_)
  bool moved_ = false;                           // GUARDED_BY(mu_)
};

}  // namespace s3m
