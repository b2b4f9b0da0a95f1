#include "fs/adaptive_handle.h"

#include "fs/fs_core.h"
#include "fs/staged_handle.h"
#include "fs/write_handle.h"

namespace s3m {

AdaptiveHandle::AdaptiveHandle(std::shared_ptr<Inode> inode, FsCore& fs)
    : FileHandle(inode), fs_(fs), stream_(std::make_shared<StreamWriteHandle>(inode, fs)) {
  current_ = stream_;
}

std::shared_ptr<FileHandle> AdaptiveHandle::Current() const {
  std::lock_guard l(mu_);
  return current_;
}

std::shared_ptr<FileHandle> AdaptiveHandle::Stage() {
  std::lock_guard l(mu_);
  if (stream_ == nullptr) return current_;
  auto staged = StagedHandle::Open(inode(), fs_, nullptr);
  std::string bytes;
  if (!staged.ok() || !stream_->TakeBack(&bytes)) return current_;
  if (!bytes.empty() && !(*staged)->Write(0, bytes.data(), bytes.size()).ok()) {
    // The stream is spent; a staged handle without the bytes would lose them: fail loudly.
    return current_;
  }
  stream_.reset();
  current_ = std::move(*staged);
  return current_;
}

void AdaptiveHandle::Read(uint64_t offset, uint64_t size,
                          std::function<void(Result<ReadData>)> done) {
  Stage()->Read(offset, size, std::move(done));
}

Result<uint64_t> AdaptiveHandle::Write(uint64_t offset, const char* data, uint64_t size) {
  std::shared_ptr<FileHandle> h = Current();
  if (offset != h->Size().value_or(0)) h = Stage();
  return h->Write(offset, data, size);
}

Status AdaptiveHandle::Truncate(uint64_t size) {
  std::shared_ptr<FileHandle> h = Current();
  if (size != 0 || h->Size().value_or(0) != 0) h = Stage();
  return h->Truncate(size);
}

}  // namespace s3m
