// DropBehind: tells the kernel to forget the cached pages a sequential buffered reader has
// left behind, as dd's iflag=nocache does from the application side.
//
// Why: a buffered stream of GiBs otherwise makes the kernel take a new page for every 4 KiB
// read and reclaim them all later. Those pages are charged to the reader's cgroup (a Slurm
// job's memory limit), and on VMs that hand free memory back to the host (free page
// reporting, as here) the first write to each is slow (by all signs a fault in the host): a
// buffered dd ran at 289-490 MiB/s instead of 662-908 when the free memory had gone cold.
// Dropped pages are taken again by the same stream's readahead while still warm.
//
// What is kept: pages a process maps (before each drop, the reading process's
// /proc/<pid>/maps is checked; a stream that maps the file is left alone for good), and
// everything of streams shorter than lag + batch. A file re-read within one open after its
// pages were dropped is read from S3 again; across opens nothing changes, as the page cache
// is not kept from one open to the next (FOPEN_KEEP_CACHE is off).
//
// Threading: OnRead/OnRelease are called from FUSE workers and only queue work; the drops
// (which wait for the kernel to lock and free the pages) run on the object's own thread,
// never on a thread that answers FUSE requests.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace s3m {

class DropBehind {
 public:
  struct Range {
    uint64_t ino = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  struct Hooks {
    // Tells the kernel to drop the cached pages of the range (fuse_lowlevel_notify_inval_inode).
    std::function<void(const Range&)> drop;
    // Whether process `pid` maps file `ino`; true when it cannot tell.
    std::function<bool(int pid, uint64_t ino)> mapped;
  };

  // Pages further than `lag` bytes behind the furthest read of a stream are dropped once
  // `batch` bytes of them have gathered. The lag is well past the kernel's readahead
  // (4 MiB), so nothing is dropped before the application has read it.
  static constexpr uint64_t kLag = 32 << 20;
  static constexpr uint64_t kBatch = 32 << 20;

  explicit DropBehind(Hooks hooks, uint64_t lag = kLag, uint64_t batch = kBatch);
  ~DropBehind();  // drops still queued are skipped
  DropBehind(const DropBehind&) = delete;
  DropBehind& operator=(const DropBehind&) = delete;

  // A buffered read of [offset, offset + size) of open file `fh` (inode `ino`) by `pid`.
  void OnRead(uint64_t fh, uint64_t ino, int pid, uint64_t offset, uint64_t size);
  void OnRelease(uint64_t fh);
  // Never drops the pages of open file `fh` (a file small enough to be read again from the
  // page cache: FuseContext::keep_pages_bytes).
  void Keep(uint64_t fh);

  // Waits until every queued drop has run. For tests.
  void Flush();
  uint64_t dropped_bytes() const;

 private:
  struct Stream {
    uint64_t dropped = 0;  // pages below this were dropped (or never read by this stream)
    uint64_t end = 0;      // the furthest byte read
    bool keep = false;     // the reader maps the file, or it is kept whole: never drop
  };
  struct Job {
    uint64_t fh = 0;
    int pid = 0;
    Range range;
  };
  void Work();

  const Hooks hooks_;
  const uint64_t lag_;
  const uint64_t batch_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::unordered_map<uint64_t, Stream> streams_;  // GUARDED_BY(mu_), by file handle
  std::deque<Job> jobs_;                          // GUARDED_BY(mu_)
  bool busy_ = false;                             // GUARDED_BY(mu_)
  bool stop_ = false;                             // GUARDED_BY(mu_)
  uint64_t dropped_bytes_ = 0;                    // GUARDED_BY(mu_)
  std::thread worker_;
};

// Whether /proc/<pid>/maps lists a mapping of inode `ino` on device `dev` (true when the
// file cannot be read: keep the pages).
bool ProcessMapsFile(int pid, uint64_t dev, uint64_t ino);

}  // namespace s3m
