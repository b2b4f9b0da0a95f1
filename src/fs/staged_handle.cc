// StagedHandle: open, reads that merge local and base bytes, writes, truncation, close.
// The commit of a new version is in staged_commit.cc.
#include "fs/staged_handle.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "fs/fs_core.h"
#include "fs/posix_meta.h"

namespace s3m {
namespace {

Status StagingFull(uint64_t limit) {
  return Status(Code::kNoSpace, "the local staging space for changed files is full (" +
                                    std::to_string(limit >> 20) +
                                    " MiB, --max-staging-size): close or fsync files to free it");
}

// Bytes of [start, end) not yet in `set`.
uint64_t NewBytes(const ExtentSet& set, uint64_t start, uint64_t end) {
  uint64_t overlap = 0;
  set.ForEachIn(start, end, [&overlap](uint64_t s, uint64_t e) { overlap += e - s; });
  return end - start - overlap;
}

// Copies `len` bytes at `pos` (relative to the start of `d`) out of a read's iovecs.
void CopyOut(const ReadData& d, uint64_t pos, char* out, uint64_t len) {
  uint64_t at = 0;
  for (const iovec& v : d.iov) {
    uint64_t s = std::max(pos, at);
    uint64_t e = std::min(pos + len, at + v.iov_len);
    if (s < e) std::memcpy(out + (s - pos), static_cast<const char*>(v.iov_base) + (s - at), e - s);
    at += v.iov_len;
  }
}

}  // namespace

Result<std::shared_ptr<StagedHandle>> StagedHandle::Open(std::shared_ptr<Inode> inode, FsCore& fs,
                                                         const ObjectInfo* base) {
  auto file = StagingFile::Create(fs.options.staging_dir);
  if (!file.ok()) return file.status();
  return std::make_shared<StagedHandle>(std::move(inode), fs, std::move(*file), base);
}

StagedHandle::StagedHandle(std::shared_ptr<Inode> inode, FsCore& fs,
                           std::unique_ptr<StagingFile> file, const ObjectInfo* base)
    : FileHandle(std::move(inode)), fs_(fs), file_(std::move(file)) {
  if (base != nullptr) {
    v_.size = v_.base_end = v_.base_size = base->size;
    v_.base_etag = base->etag;
  } else {
    dirty_ = true;  // a new file is stored at close even if nothing is written
  }
  ResetBaseReader();
}

StagedHandle::~StagedHandle() {
  fs_.ReleaseStaging(reserved_);
}

void StagedHandle::ResetBaseReader() {
  base_reader_.reset();
  if (v_.base_etag.empty() || v_.base_size == 0) return;
  base_reader_ = std::make_shared<ObjectReader>(fs_.client, fs_.pool, fs_.options.reader,
                                                inode()->key, v_.base_etag, v_.base_size);
}

std::optional<uint64_t> StagedHandle::Size() const {
  std::lock_guard l(mu_);
  return v_.size;
}

Status StagedHandle::ReadLocal(const Version& v, uint64_t start, uint64_t end, char* out) const {
  Status s;
  auto read = [&](uint64_t a, uint64_t b) {
    if (s.ok() && a < b) s = file_->Read(a, out + (a - start), b - a);
  };
  v.written.ForEachIn(start, std::min(end, v.base_end), read);
  read(std::max(start, v.base_end), end);  // cut off by a truncation: local (zeros if unwritten)
  return s;
}

void StagedHandle::Read(uint64_t offset, uint64_t size,
                        std::function<void(Result<ReadData>)> done) {
  std::unique_lock l(mu_);
  if (offset >= v_.size) return done(ReadData{});
  uint64_t end = std::min(v_.size, offset + size);
  uint64_t base_hi = std::max(offset, std::min(end, v_.base_end));
  bool all_base = !v_.written.Overlaps(offset, end) && base_hi == end;
  std::shared_ptr<ObjectReader> reader = base_reader_;
  if (all_base) {
    l.unlock();
    return reader->Read(offset, end - offset, std::move(done));
  }
  // Local bytes are read under mu_, so a commit cannot drop them from the staging file
  // midway; the base's bytes come after, into the gaps.
  auto buf = std::make_shared<std::vector<char>>(end - offset);
  Status s = ReadLocal(v_, offset, end, buf->data());
  if (!s.ok()) return done(s);
  std::vector<std::pair<uint64_t, uint64_t>> gaps;  // base bytes to fetch
  uint64_t pos = offset;
  v_.written.ForEachIn(offset, base_hi, [&](uint64_t a, uint64_t b) {
    if (a > pos) gaps.emplace_back(pos, a);
    pos = b;
  });
  if (base_hi > pos) gaps.emplace_back(pos, base_hi);
  l.unlock();
  auto reply = [buf, done](uint64_t n) {
    ReadData d;
    d.iov.push_back(iovec{buf->data(), n});
    d.keep.push_back(buf);
    d.size = n;
    done(std::move(d));
  };
  if (gaps.empty()) return reply(buf->size());
  uint64_t lo = gaps.front().first;
  uint64_t hi = gaps.back().second;
  reader->Read(lo, hi - lo, [buf, gaps, offset, lo, reply, done](Result<ReadData> r) {
    if (!r.ok()) return done(r.status());
    for (auto [a, b] : gaps) CopyOut(*r, a - lo, buf->data() + (a - offset), b - a);
    reply(buf->size());
  });
}

namespace {
Status Renamed() {
  return Status(Code::kStale, "the file was renamed while open for writing: open it again");
}
}  // namespace

bool StagedHandle::MetadataChanged() {
  std::unique_lock l(mu_);
  cv_.wait(l, [this] { return !committing_; });  // the running commit took the old metadata
  if (moved_) return false;
  dirty_ = true;
  return true;
}

void StagedHandle::Moved(const std::string&, const std::string&) {
  std::lock_guard l(mu_);
  moved_ = true;
}

Result<uint64_t> StagedHandle::Write(uint64_t offset, const char* data, uint64_t size) {
  std::unique_lock l(mu_);
  cv_.wait(l, [this] { return !committing_; });
  if (moved_) return Renamed();
  uint64_t added = NewBytes(v_.written, offset, offset + size);
  if (!fs_.ReserveStaging(added)) return StagingFull(fs_.options.staging_limit_bytes);
  Status s = file_->Write(offset, data, size);
  if (!s.ok()) {
    fs_.ReleaseStaging(added);
    return s;
  }
  reserved_ += added;
  v_.written.Add(offset, offset + size);
  v_.size = std::max(v_.size, offset + size);
  dirty_ = true;
  std::lock_guard il(inode()->mu);
  inode()->st.size = v_.size;
  inode()->st.where = Locality::kWriting;  // again, after a commit showed it stored
  return size;
}

Status StagedHandle::Truncate(uint64_t size) {
  std::unique_lock l(mu_);
  cv_.wait(l, [this] { return !committing_; });
  if (moved_) return Renamed();
  if (size == v_.size) return Status::Ok();
  if (size < v_.size) {
    Status s = file_->Truncate(size);  // bytes past the cut read as zeros if it grows again
    if (!s.ok()) return s;
    uint64_t before = v_.written.bytes();
    v_.written.ClipTo(size);
    uint64_t freed = before - v_.written.bytes();
    fs_.ReleaseStaging(freed);
    reserved_ -= freed;
    v_.base_end = std::min(v_.base_end, size);
  }
  v_.size = size;
  dirty_ = true;
  std::lock_guard il(inode()->mu);
  inode()->st.size = size;
  inode()->st.where = Locality::kWriting;
  return Status::Ok();
}

void StagedHandle::Close(Callback<Empty> closed) {
  Commit([this, closed = std::move(closed)](Result<Empty> r) {
    if (!r.ok()) {
      S3M_ERROR("file {} closed, but its new version was not stored: {}", inode()->key,
                r.status().ToString());
    }
    {
      std::lock_guard il(inode()->mu);
      inode()->st.where = Locality::kRemote;
      // After a failure, ask S3 what is there (the old version) instead of trusting the size.
      if (!r.ok()) inode()->st.expiry = MonoTime::min();
    }
    closed(Empty{});
  });
}

void StagedHandle::Discard() {
  {
    std::lock_guard l(mu_);
    dirty_ = false;
  }
  std::lock_guard il(inode()->mu);
  inode()->st.where = Locality::kRemote;
  inode()->st.expiry = MonoTime::min();
}

// The inode learns the metadata stored, keeping changes made since the commit began (a
// chmod waits for it, then marks the handle dirty again).
void StagedHandle::RecordStoredMeta(InodeState& st, const Metadata& stored) const {
  if (!st.meta_known) {
    st.meta = stored;
    st.meta_known = true;
  } else if (fs_.options.posix && !st.mtime_explicit) {
    auto it = stored.find(kMetaMtime);
    if (it != stored.end()) st.meta[kMetaMtime] = it->second;
  }
  st.mtime_explicit = false;
  st.meta_expiry = fs_.Expiry();
}

void StagedHandle::OnCommitted(const Result<ObjectInfo>& r) {
  std::vector<Callback<Empty>> waiters;
  {
    std::lock_guard l(mu_);
    committing_ = false;
    if (r.ok()) {
      v_.base_etag = r->etag;
      v_.base_size = v_.base_end = v_.size;
      v_.written.Clear();
      dirty_ = false;
      fs_.ReleaseStaging(reserved_);
      reserved_ = 0;
      if (!file_->Truncate(0).ok()) S3M_WARN("cannot free the staging file of {}", inode()->key);
      ResetBaseReader();
    }
    waiters.swap(commit_waiters_);
  }
  cv_.notify_all();
  if (r.ok()) {
    {
      std::lock_guard il(inode()->mu);
      inode()->st.etag = r->etag;
      inode()->st.size = r->size;
      // Stored: others may open it now. close(2) returns after the flush, and the kernel
      // releases the handle later, so a program that closes and reopens would otherwise
      // find the file still being written. A write through this handle takes it back.
      inode()->st.where = Locality::kRemote;
      inode()->st.expiry = fs_.Expiry();
      inode()->st.mtime_sec = fs_.WallSeconds();
      inode()->st.mtime_nsec = 0;
      RecordStoredMeta(inode()->st, r->metadata);
    }
    fs_.table.MarkAncestorsRemote(*inode(), fs_.Expiry());
  }
  FsCore& fs = fs_;  // a Close waiter lets the owner destroy the handle
  for (auto& w : waiters) r.ok() ? w(Empty{}) : w(r.status());
  fs.EndUpload();
}

}  // namespace s3m
