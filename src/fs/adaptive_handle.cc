// AdaptiveHandle: see adaptive_handle.h.
#include "fs/adaptive_handle.h"

#include <future>

#include "common/log.h"
#include "fs/fs_core.h"
#include "fs/staged_handle.h"
#include "fs/write_handle.h"

namespace s3m {

AdaptiveHandle::AdaptiveHandle(std::shared_ptr<Inode> inode, FsCore& fs, bool readable)
    : FileHandle(inode),
      fs_(fs),
      readable_(readable),
      stream_(std::make_shared<StreamWriteHandle>(inode, fs)) {
  current_ = stream_;
}

AdaptiveHandle::Mode AdaptiveHandle::CurrentMode() const {
  std::lock_guard l(mu_);
  return mode_;
}

AdaptiveHandle::State AdaptiveHandle::Snapshot() const {
  std::lock_guard l(mu_);
  return State{mode_, current_, failure_};
}

AdaptiveHandle::State AdaptiveHandle::SettledState() {
  std::unique_lock l(mu_);
  cv_.wait(l, [this] { return mode_ != Mode::kSwitching; });
  return State{mode_, current_, failure_};
}

// `fn` may run on the client's thread (after a switch): it takes a Snapshot, never waits.
void AdaptiveHandle::WhenSettled(std::function<void()> fn) {
  {
    std::lock_guard l(mu_);
    if (mode_ == Mode::kSwitching) {
      waiters_.push_back([fn = std::move(fn)](Status) { fn(); });
      return;
    }
  }
  fn();
}

std::optional<uint64_t> AdaptiveHandle::Size() const {
  std::shared_ptr<FileHandle> h;
  {
    std::lock_guard l(mu_);
    h = current_;
  }
  return h->Size();
}

// No lock is held across the switch's work: TakeBack waits for a write that may be waiting
// for memory, and Size() (asked under the handle table's lock) must not wait for it.
void AdaptiveHandle::Switch(std::function<void(Status)> then) {
  {
    std::unique_lock l(mu_);
    if (mode_ == Mode::kSwitching) return waiters_.push_back(std::move(then));
    if (mode_ != Mode::kStream || moved_) {
      Status s = mode_ == Mode::kFailed ? failure_ : Status::Ok();
      if (mode_ == Mode::kStream) {
        s = Status(Code::kStale, "the file was renamed while open for writing: open it again");
      }
      l.unlock();
      return then(s);
    }
    mode_ = Mode::kSwitching;
    waiters_.push_back(std::move(then));
  }
  auto staged = StagedHandle::Open(inode(), fs_, nullptr);
  if (!staged.ok()) return Settle(nullptr, staged.status(), /*stream_goes_on=*/true);
  // Nothing has left for S3 yet: the bytes come back from the part buffer, no request.
  std::string bytes;
  if (stream_->TakeBack(&bytes)) {
    Status s;
    if (!bytes.empty()) s = (*staged)->Write(0, bytes.data(), bytes.size()).status();
    return Settle(s.ok() ? std::move(*staged) : nullptr, s, false);
  }
  // Parts have left: complete the upload, then change the object it made. The stream
  // stays owned by stream_ until this handle goes, as its completion runs inside it.
  stream_->FinishForStaging([this](Result<ObjectInfo> r) { OnStreamFinished(r); });
}

void AdaptiveHandle::OnStreamFinished(const Result<ObjectInfo>& stored) {
  Status s = stored.status();
  std::shared_ptr<StagedHandle> staged;
  if (s.ok()) {
    auto h = StagedHandle::Open(inode(), fs_, &*stored);
    if (h.ok()) staged = std::move(*h);
    s = h.status();
  }
  Settle(std::move(staged), s, false);
}

void AdaptiveHandle::Settle(std::shared_ptr<FileHandle> staged, const Status& s,
                            bool stream_goes_on) {
  if (staged == nullptr && !stream_goes_on) {
    S3M_ERROR("{} cannot be read back or changed: {}", inode()->key, s.ToString());
  }
  std::vector<std::function<void(Status)>> waiters;
  {
    std::lock_guard l(mu_);
    if (staged != nullptr) {
      current_ = std::move(staged);
      mode_ = Mode::kStaged;
    } else if (stream_goes_on) {
      mode_ = Mode::kStream;
    } else {
      mode_ = Mode::kFailed;
      failure_ = s;
    }
    waiters.swap(waiters_);
  }
  cv_.notify_all();
  for (auto& w : waiters) w(s);
}

Status AdaptiveHandle::SwitchAndWait() {
  auto p = std::make_shared<std::promise<Status>>();
  std::future<Status> f = p->get_future();
  Switch([p](Status s) { p->set_value(std::move(s)); });
  return f.get();
}

void AdaptiveHandle::Read(uint64_t offset, uint64_t size,
                          std::function<void(Result<ReadData>)> done) {
  Switch([this, offset, size, done = std::move(done)](Status s) mutable {
    if (!s.ok()) return done(s);
    Snapshot().current->Read(offset, size, std::move(done));  // staged: for good
  });
}

Result<uint64_t> AdaptiveHandle::Write(uint64_t offset, const char* data, uint64_t size) {
  for (;;) {
    State st = SettledState();
    if (st.mode == Mode::kFailed) return st.failure;
    if (st.mode == Mode::kStaged) return st.current->Write(offset, data, size);
    bool in_order = offset == stream_->Size().value_or(0);
    if (in_order || !readable_) {
      Result<uint64_t> r = stream_->Write(offset, data, size);
      if (r.ok()) return r;
      // A write lands whole in the stream or not at all. It fails without landing when a
      // switch took the stream (then it goes to the staged handle), or when a flush
      // completed the upload (a file opened O_RDWR then switches). Else the error stands.
      bool switched = CurrentMode() != Mode::kStream;
      if (!switched && (!readable_ || !stream_->Finishing())) return r;
      if (switched) continue;
    }
    Status s = SwitchAndWait();
    if (!s.ok()) return s;
  }
}

Status AdaptiveHandle::Truncate(uint64_t size) {
  State st = SettledState();
  if (st.mode == Mode::kStream) {
    uint64_t written = stream_->Size().value_or(0);
    // A stream that has sent parts grows by appending zeros and needs no switch; a file
    // still in its first part is staged (sparse, nothing uploaded), as is any cut.
    if (size == written || (size > written && stream_->Sending())) {
      Status s = stream_->Truncate(size);
      if (s.ok() || (CurrentMode() == Mode::kStream && !stream_->Finishing())) return s;
    }
    Status s = SwitchAndWait();
    if (!s.ok()) return s;
    st = SettledState();
  }
  if (st.mode == Mode::kFailed) return st.failure;
  return st.current->Truncate(size);
}

void AdaptiveHandle::Flush(Callback<Empty> done) {
  WhenSettled([this, done = std::move(done)]() mutable {
    State st = Snapshot();
    if (st.mode == Mode::kFailed) return done(st.failure);
    st.current->Flush(std::move(done));
  });
}

void AdaptiveHandle::Fsync(Callback<Empty> done) {
  WhenSettled([this, done = std::move(done)]() mutable {
    State st = Snapshot();
    if (st.mode == Mode::kFailed) return done(st.failure);
    st.current->Fsync(std::move(done));
  });
}

void AdaptiveHandle::Close(Callback<Empty> closed) {
  WhenSettled([this, closed = std::move(closed)]() mutable {
    State st = Snapshot();
    if (st.mode == Mode::kFailed) {
      // Whatever S3 holds now (the completed stream, or nothing) is the file.
      std::lock_guard il(inode()->mu);
      inode()->st.where = Locality::kRemote;
      inode()->st.expiry = MonoTime::min();
    }
    st.current->Close(std::move(closed));
  });
}

void AdaptiveHandle::Moved(const std::string& key, const std::string& etag) {
  State st = SettledState();
  if (st.mode == Mode::kStream) {
    std::lock_guard l(mu_);
    moved_ = true;
  }
  st.current->Moved(key, etag);
}

void AdaptiveHandle::Discard() {
  WhenSettled([this] { Snapshot().current->Discard(); });
}

}  // namespace s3m
