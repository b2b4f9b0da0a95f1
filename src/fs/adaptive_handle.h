// AdaptiveHandle: a new file. Most new files are written sequentially and closed, so it
// streams (StreamWriteHandle: full upload throughput, no extra request). When the file must
// be read back or changed out of order, it turns into a StagedHandle:
//   - while every byte written is still in the first part buffer, the stream gives them
//     back and the staged handle holds them locally (no request);
//   - after parts have left for S3, the stream's upload is completed first (the object then
//     holds what was written, as after an fsync), and the staged handle changes that object:
//     reads come from S3, later writes are staged and committed at close with If-Match on
//     the ETag the completion returned.
// What switches: on a file opened O_RDWR (IOR, git, mkstemp), a read, an out-of-order write,
// a write after a flush or fsync completed the upload, or a truncation (but growing a file
// that has sent parts, which the stream does by appending zeros); on a write-only file only
// a truncation: its out-of-order writes still fail with EINVAL, as in Mountpoint, since
// write-only programs that seek are rare and staging costs a round of server-side copies.
// Existing objects opened O_TRUNC never use it: an upload completed midway would replace
// the old object with part of the new one.
// The switch is asynchronous for reads, flushes and close (they wait in `waiters_`); writes,
// truncation and the other synchronous calls wait for it on their thread, as a staged
// handle's writes wait for its commit.
//
// Threading: mu_ guards the mode and the current handle, and is a leaf: calls go to the
// handles outside it. kStaged and kFailed are final; kSwitching comes only from kStream.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "fs/file_handle.h"

namespace s3m {

struct FsCore;
class StreamWriteHandle;

class AdaptiveHandle final : public FileHandle {
 public:
  // `readable`: opened O_RDWR (see the file comment).
  AdaptiveHandle(std::shared_ptr<Inode> inode, FsCore& fs, bool readable);

  void Read(uint64_t offset, uint64_t size, std::function<void(Result<ReadData>)> done) override;
  Result<uint64_t> Write(uint64_t offset, const char* data, uint64_t size) override;
  Status Truncate(uint64_t size) override;
  std::optional<uint64_t> Size() const override;
  void Flush(Callback<Empty> done) override;
  void Fsync(Callback<Empty> done) override;
  void Close(Callback<Empty> closed) override;
  void Discard() override;
  bool MetadataChanged() override { return SettledState().current->MetadataChanged(); }
  // A rename stored the stream's bytes under the new key; changes through this handle
  // would go to the old one, so it cannot switch any more (as a staged handle refuses).
  void Moved(const std::string& key, const std::string& etag) override;

 private:
  enum class Mode { kStream, kSwitching, kStaged, kFailed };
  struct State {
    Mode mode;
    std::shared_ptr<FileHandle> current;
    Status failure;
  };

  // Turns the file staged (see the file comment), then calls `then` with the outcome.
  void Switch(std::function<void(Status)> then);
  Status SwitchAndWait();
  void OnStreamFinished(const Result<ObjectInfo>& stored);
  // Ends a switch: to `staged`, or (null) back to the stream when `stream_goes_on`, else to
  // kFailed with `s` (the stream is spent: its flush and close report the error).
  void Settle(std::shared_ptr<FileHandle> staged, const Status& s, bool stream_goes_on);
  // Runs `fn` once no switch is under way.
  void WhenSettled(std::function<void()> fn);
  // The state, after waiting for a switch under way (never on a client thread).
  State SettledState();
  State Snapshot() const;
  Mode CurrentMode() const;

  FsCore& fs_;
  const bool readable_;
  const std::shared_ptr<StreamWriteHandle> stream_;  // kept to the end: see Switch
  mutable std::mutex mu_;
  std::condition_variable cv_;                        // signalled when a switch ends
  Mode mode_ = Mode::kStream;                         // GUARDED_BY(mu_)
  bool moved_ = false;                                // GUARDED_BY(mu_): see Moved
  Status failure_;                                    // GUARDED_BY(mu_): kFailed's cause
  std::shared_ptr<FileHandle> current_;               // GUARDED_BY(mu_)
  std::vector<std::function<void(Status)>> waiters_;  // GUARDED_BY(mu_): of the switch
};

}  // namespace s3m
