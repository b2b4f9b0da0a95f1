#include "fuse/drop_behind.h"

#include <sys/sysmacros.h>

#include <cstdio>
#include <string>
#include <utility>

namespace s3m {
namespace {
constexpr uint64_t kPageMask = 4095;
// A read further than this past a stream's end is a skip: a new stream starts there.
// Readahead requests reach the workers a little out of order, never this far.
constexpr uint64_t kJump = 8 << 20;
}  // namespace

DropBehind::DropBehind(Hooks hooks, uint64_t lag, uint64_t batch)
    : hooks_(std::move(hooks)), lag_(lag), batch_(batch), worker_([this] { Work(); }) {}

DropBehind::~DropBehind() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void DropBehind::OnRead(uint64_t fh, uint64_t ino, int pid, uint64_t offset, uint64_t size) {
  uint64_t end = offset + size;
  std::lock_guard l(mu_);
  auto [it, fresh] = streams_.try_emplace(fh);
  Stream& s = it->second;
  if (s.keep) return;
  if (fresh || offset < s.dropped || offset > s.end + kJump) {
    // A new stream, a seek back into what was dropped, or a skip ahead.
    s.dropped = offset & ~kPageMask;
    s.end = end;
    return;
  }
  if (end > s.end) s.end = end;
  if (s.end < lag_) return;
  uint64_t upto = (s.end - lag_) & ~kPageMask;
  if (upto < s.dropped + batch_) return;
  jobs_.push_back(Job{fh, pid, Range{ino, s.dropped, upto - s.dropped}});
  s.dropped = upto;
  wake_.notify_one();
}

void DropBehind::OnRelease(uint64_t fh) {
  std::lock_guard l(mu_);
  streams_.erase(fh);
}

void DropBehind::Keep(uint64_t fh) {
  std::lock_guard l(mu_);
  streams_[fh].keep = true;
}

void DropBehind::Flush() {
  std::unique_lock l(mu_);
  idle_.wait(l, [this] { return (jobs_.empty() && !busy_) || stop_; });
}

uint64_t DropBehind::dropped_bytes() const {
  std::lock_guard l(mu_);
  return dropped_bytes_;
}

void DropBehind::Work() {
  std::unique_lock l(mu_);
  while (true) {
    wake_.wait(l, [this] { return stop_ || !jobs_.empty(); });
    if (stop_) break;
    Job job = jobs_.front();
    jobs_.pop_front();
    busy_ = true;
    l.unlock();
    // Checked at every drop: the reader may map the file after it started reading it.
    bool mapped = !hooks_.mapped || hooks_.mapped(job.pid, job.range.ino);
    if (!mapped) hooks_.drop(job.range);
    l.lock();
    busy_ = false;
    if (mapped) {
      auto it = streams_.find(job.fh);
      if (it != streams_.end()) it->second.keep = true;
    } else {
      dropped_bytes_ += job.range.length;
    }
    if (jobs_.empty()) idle_.notify_all();
  }
  idle_.notify_all();
}

bool ProcessMapsFile(int pid, uint64_t dev, uint64_t ino) {
  if (pid <= 0) return true;  // the reader is in another pid namespace
  std::string path = "/proc/" + std::to_string(pid) + "/maps";
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return true;
  unsigned want_major = major(dev), want_minor = minor(dev);
  bool found = false;
  char line[4096];
  while (!found && std::fgets(line, sizeof line, f) != nullptr) {
    // "start-end perms offset MM:mm inode path"
    unsigned maj = 0, min = 0;
    unsigned long long inode = 0;
    if (std::sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &inode) == 3) {
      found = maj == want_major && min == want_minor && inode == ino;
    }
    // A line longer than the buffer (a very long path) is read on in pieces; the pieces
    // do not parse as a mapping.
  }
  std::fclose(f);
  return found;
}

}  // namespace s3m
