// StreamWriteHandle: see write_handle.h.
#include "fs/write_handle.h"

#include <algorithm>
#include <string>

#include "common/log.h"
#include "fs/fs_core.h"

namespace s3m {
namespace {

Status Committed() {
  return Status(Code::kBadHandle, "the file was already committed by flush or fsync");
}

}  // namespace

StreamWriteHandle::StreamWriteHandle(std::shared_ptr<Inode> inode, FsCore& fs)
    : FileHandle(std::move(inode)),
      fs_(fs),
      writer_(fs.client, fs.pool, fs.options.writer, this->inode()->key) {
  if (fs.options.posix) writer_.SetMetadata(fs.MetaToStore(this->inode()->Snapshot()));
}

bool StreamWriteHandle::MetadataChanged() {
  std::lock_guard l(mu_);
  if (finalizing_ || discarded_) return false;
  if (!writer_.SetMetadata(fs_.MetaToStore(inode()->Snapshot()))) late_meta_ = true;
  return true;
}

StreamWriteHandle::~StreamWriteHandle() = default;

std::optional<uint64_t> StreamWriteHandle::Size() const {
  return writer_.bytes_written();
}

Result<uint64_t> StreamWriteHandle::Write(uint64_t offset, const char* data, uint64_t size) {
  std::lock_guard wl(write_mu_);
  {
    std::lock_guard l(mu_);
    if (!write_error_.ok()) return write_error_;
    if (upload_ != Upload::kOpen) return Committed();
  }
  if (offset != writer_.bytes_written()) {
    return Spoil(Status(Code::kInvalidArgument,
                        "writes must be sequential from offset 0; the file will not be uploaded"));
  }
  if (offset == 0) {
    // After an empty flush the inode showed the empty object: it is being written again.
    std::lock_guard l(inode()->mu);
    inode()->st.where = Locality::kWriting;
  }
  Result<uint64_t> r = writer_.Write(offset, data, size);
  if (!r.ok()) return Spoil(r.status());
  std::lock_guard l(inode()->mu);
  inode()->st.size = writer_.bytes_written();
  return r;
}

// Truncating to the size written is a no-op (O_TRUNC and touch of an empty file; rsync
// --inplace ftruncates each file it wrote to its length); growing the file appends zeros,
// which a stream can send (truncate -s N of a new file); only cutting it is refused.
Status StreamWriteHandle::Truncate(uint64_t size) {
  uint64_t written;
  {
    std::lock_guard wl(write_mu_);
    written = writer_.bytes_written();
  }
  if (size == written) return Status::Ok();
  if (size < written) {
    return Status(Code::kNotSupported,
                  "a file being written sequentially cannot be cut: write it anew (O_TRUNC)");
  }
  static const std::string kZeros(1 << 20, '\0');
  while (written < size) {
    uint64_t n = std::min<uint64_t>(kZeros.size(), size - written);
    Result<uint64_t> r = Write(written, kZeros.data(), n);
    if (!r.ok()) return r.status();
    written += n;
  }
  return Status::Ok();
}

void StreamWriteHandle::Flush(Callback<Empty> done) {
  bool stored_empty;
  {
    std::lock_guard l(mu_);
    if (!write_error_.ok()) return done(write_error_);
    stored_empty = empty_committed_;
  }
  // Shells open, dup2 and close a descriptor before writing (`echo x > f`), so a flush with
  // nothing written is not the end of the file; yet an empty file must be in S3 when its
  // close returns (touch). So store an empty object and stay writable. Once stored, a
  // flush with still nothing written sends nothing: a second PUT would also undo what was
  // set on the object since (touch -d's times, under --posix).
  if (writer_.bytes_written() == 0) {
    if (stored_empty) return done(Empty{});
    return CommitEmpty(std::move(done));
  }
  FinishUpload(std::move(done));
}

void StreamWriteHandle::Fsync(Callback<Empty> done) {
  FinishUpload(std::move(done));
}

void StreamWriteHandle::Close(Callback<Empty> closed) {
  if (FinishCommittedEmpty()) return closed(Empty{});
  const std::string key = inode()->key;
  FinishUpload([key, closed = std::move(closed)](Result<Empty> r) {
    if (!r.ok()) S3M_ERROR("file {} closed, but its upload failed: {}", key, r.status().ToString());
    closed(Empty{});
  });
}

void StreamWriteHandle::Discard() {
  {
    std::lock_guard l(mu_);
    discarded_ = true;
    if (write_error_.ok()) write_error_ = Status(Code::kBadHandle, "the open was abandoned");
  }
  writer_.Abort();
  std::lock_guard l(inode()->mu);
  inode()->st.where = Locality::kRemote;
  inode()->st.expiry = MonoTime::min();  // ask S3 what is there (the old object, or none)
}

bool StreamWriteHandle::TakeBack(std::string* out) {
  std::lock_guard wl(write_mu_);
  {
    std::lock_guard l(mu_);
    if (!write_error_.ok() || upload_ != Upload::kOpen) return false;
  }
  if (!writer_.TakeBack(out)) return false;
  std::lock_guard l(mu_);
  write_error_ = Status(Code::kBadHandle, "the file is staged now");
  return true;
}

void StreamWriteHandle::FinishForStaging(Callback<ObjectInfo> done) {
  {
    std::lock_guard l(mu_);
    keep_writing_ = true;
  }
  // The handle outlives this: its owner keeps it until the owner's Close.
  FinishUpload([this, done = std::move(done)](Result<Empty> r) {
    if (!r.ok()) return done(r.status());
    ObjectInfo info;
    {
      std::lock_guard l(mu_);
      info = stored_;
    }
    done(std::move(info));
  });
}

bool StreamWriteHandle::Finishing() const {
  std::lock_guard l(mu_);
  return upload_ != Upload::kOpen;
}

// The writer sends its first part only when a byte arrives past it.
bool StreamWriteHandle::Sending() const {
  return writer_.bytes_written() > WritePartSize(fs_.options.writer.write_part_size, 1);
}

void StreamWriteHandle::FinishUpload(Callback<Empty> done) {
  Status spoiled;
  std::optional<Status> ended;  // the upload's outcome, when it is over
  {
    std::lock_guard l(mu_);
    if (upload_ == Upload::kDone) {
      ended = upload_status_;
    } else {
      finish_waiters_.push_back(std::move(done));
      if (upload_ == Upload::kFinishing) return;
      upload_ = Upload::kFinishing;
      spoiled = write_error_;
    }
  }
  if (ended.has_value()) return ended->ok() ? done(Empty{}) : done(*ended);  // not under mu_
  fs_.BeginUpload();  // balanced by OnUploaded
  if (!spoiled.ok()) return OnUploaded(spoiled);
  { std::lock_guard wl(write_mu_); }  // a Write already inside the writer leaves it first
  if (fs_.options.posix) writer_.SetMetadata(fs_.MetaToStore(inode()->Snapshot()));
  writer_.Finish([this](Result<ObjectInfo> r) { OnUploaded(r); });
}

Status StreamWriteHandle::Spoil(Status error) {
  {
    std::lock_guard l(mu_);
    if (write_error_.ok()) write_error_ = error;
  }
  writer_.Abort();  // drops the parts and aborts any multipart upload
  S3M_ERROR("write to {} failed, the file will not be uploaded: {}", inode()->key,
            error.ToString());
  return error;
}

void StreamWriteHandle::CommitEmpty(Callback<Empty> done) {
  PutObjectParams p;
  p.key = inode()->key;
  p.storage_class = fs_.options.writer.storage_class;
  p.checksum = fs_.options.writer.checksum;
  if (fs_.options.posix) p.metadata = fs_.MetaToStore(inode()->Snapshot());
  // The handle is alive until its Close completes, which the kernel sends after this flush.
  Metadata sent = p.metadata;
  fs_.client->PutObject(
      std::move(p), [this, sent, done = std::move(done)](Result<PutObjectResult> r) {
        if (!r.ok()) return done(r.status());
        ObjectInfo info;
        info.key = inode()->key;
        info.etag = r->etag;
        info.last_modified = fs_.WallSeconds();
        {
          std::lock_guard l(mu_);
          empty_committed_ = true;
          empty_info_ = info;
        }
        {
          // The empty file now exists in S3: it can be unlinked, listed and opened like any
          // other until a write (if one comes) makes it a file being written again.
          std::lock_guard l(inode()->mu);
          if (inode()->st.where == Locality::kWriting && writer_.bytes_written() == 0) {
            inode()->st.where = Locality::kRemote;
            Inode::ApplyRemote(inode()->st, &info, fs_.Expiry());
            if (fs_.options.posix) Inode::ApplyMeta(inode()->st, sent, fs_.Expiry());
          }
        }
        fs_.table.MarkAncestorsRemote(*inode(), fs_.Expiry());
        done(Empty{});
      });
}

bool StreamWriteHandle::FinishCommittedEmpty() {
  ObjectInfo info;
  {
    std::lock_guard l(mu_);
    if (!empty_committed_ || upload_ != Upload::kOpen || writer_.bytes_written() != 0 ||
        !write_error_.ok()) {
      return false;
    }
    upload_ = Upload::kFinishing;
    info = empty_info_;
    empty_applied_ = true;
  }
  fs_.BeginUpload();  // balanced by OnUploaded
  OnUploaded(info);
  return true;
}

void StreamWriteHandle::OnUploaded(const Result<ObjectInfo>& r) {
  bool late = false;
  {
    std::lock_guard l(mu_);
    finalizing_ = true;
    late = late_meta_ && r.ok() && !discarded_;
  }
  if (late) return StoreLateMeta(*r);
  Finished(r);
}

void StreamWriteHandle::StoreLateMeta(const ObjectInfo& stored) {
  CopyObjectParams p;
  p.source_key = p.dest_key = stored.key;
  p.source_if_match = stored.etag;
  p.replace_metadata = true;
  p.metadata = fs_.MetaToStore(inode()->Snapshot());
  p.storage_class = fs_.options.writer.storage_class;
  Metadata meta = p.metadata;
  fs_.client->CopyObject(std::move(p), [this, stored, meta](Result<CopyObjectResult> c) {
    if (!c.ok()) return Finished(c.status());
    ObjectInfo info = stored;
    info.metadata = meta;
    if (!c->etag.empty()) info.etag = c->etag;
    Finished(info);
  });
}

void StreamWriteHandle::Finished(const Result<ObjectInfo>& r) {
  bool discarded, applied, keep;
  {
    std::lock_guard l(mu_);
    discarded = discarded_;
    applied = empty_applied_;
    keep = keep_writing_;
    if (r.ok()) stored_ = *r;
  }
  // The empty object a flush stored was applied to the inode then; since, a --posix
  // utimensat or chmod may have replaced it (new ETag, metadata): the inode is current.
  if (!discarded && !applied) {
    std::lock_guard l(inode()->mu);
    inode()->st.where = Locality::kRemote;
    if (r.ok()) {
      Inode::ApplyRemote(inode()->st, &*r, fs_.Expiry());
      if (r->last_modified == 0) inode()->st.mtime_sec = fs_.WallSeconds();
      if (fs_.options.posix) Inode::ApplyMeta(inode()->st, r->metadata, fs_.Expiry());
      inode()->st.mtime_explicit = false;
      if (keep) {
        // Still open to change: others keep out, and the next commit stores the same
        // metadata without asking S3 for it.
        inode()->st.where = Locality::kWriting;
        inode()->st.meta = r->metadata;
        inode()->st.meta_known = true;
        inode()->st.meta_expiry = fs_.Expiry();
      }
    } else {
      inode()->st.expiry = MonoTime::min();  // ask S3 what is there (the old object, or none)
    }
  }
  if (r.ok()) {
    fs_.table.MarkAncestorsRemote(*inode(), fs_.Expiry());
  } else if (!discarded) {
    S3M_ERROR("upload of {} failed: {}", inode()->key, r.status().ToString());
  }
  std::vector<Callback<Empty>> waiters;
  {
    std::lock_guard l(mu_);
    upload_ = Upload::kDone;
    upload_status_ = r.status();
    waiters.swap(finish_waiters_);
  }
  // A Close waiter lets the owner destroy the handle: no member is used after the waiters.
  FsCore& fs = fs_;
  for (auto& w : waiters) r.ok() ? w(Empty{}) : w(r.status());
  fs.EndUpload();
}

}  // namespace s3m
