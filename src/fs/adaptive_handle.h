// AdaptiveHandle: a new file opened for reading and writing (O_RDWR: IOR, git, mkstemp).
// Most such files are written sequentially and closed, so it streams (StreamWriteHandle,
// full upload throughput). Its first read, out-of-order write or truncation turns it into
// a StagedHandle, with the bytes written so far, while those are all still in the first
// part buffer; after a part has left for S3 they cannot be read back, so those calls fail
// as on a streamed file (EBADF, EINVAL).
// Threading: mu_ guards the switch; calls go to the current handle outside it.
#pragma once

#include <memory>
#include <mutex>

#include "fs/file_handle.h"

namespace s3m {

struct FsCore;
class StreamWriteHandle;

class AdaptiveHandle final : public FileHandle {
 public:
  AdaptiveHandle(std::shared_ptr<Inode> inode, FsCore& fs);

  void Read(uint64_t offset, uint64_t size, std::function<void(Result<ReadData>)> done) override;
  Result<uint64_t> Write(uint64_t offset, const char* data, uint64_t size) override;
  Status Truncate(uint64_t size) override;
  std::optional<uint64_t> Size() const override { return Current()->Size(); }
  void Flush(Callback<Empty> done) override { Current()->Flush(std::move(done)); }
  void Fsync(Callback<Empty> done) override { Current()->Fsync(std::move(done)); }
  void Close(Callback<Empty> closed) override { Current()->Close(std::move(closed)); }
  void Discard() override { Current()->Discard(); }
  void Moved(const std::string& key, const std::string& etag) override {
    Current()->Moved(key, etag);
  }

 private:
  std::shared_ptr<FileHandle> Current() const;
  // Switches to a staged handle if the stream can give its bytes back; the handle to use.
  std::shared_ptr<FileHandle> Stage();

  FsCore& fs_;
  mutable std::mutex mu_;
  std::shared_ptr<StreamWriteHandle> stream_;  // GUARDED_BY(mu_); null once staged
  std::shared_ptr<FileHandle> current_;        // GUARDED_BY(mu_)
};

}  // namespace s3m
