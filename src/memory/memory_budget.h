// MemoryBudget: the one bound on data buffers (prefetch windows and upload parts) for the
// whole process, and BufferPool, which hands out reusable part buffers charged to it.
//
// Who acquires: the BufferPool. Every Take*() call charges the buffer's capacity to the
// budget before it returns a buffer, and the buffer gives the bytes back when its last
// reference goes (to the pool's cache, which keeps them charged, or to the budget).
// Nobody else calls MemoryBudget::Acquire/Release for data buffers, so the invariant
//   bytes in live buffers + bytes in cached free buffers == budget.used() <= limit
// holds, with two documented exceptions:
//   - a request larger than the whole limit is granted when nothing else is held
//     (so one oversized part cannot deadlock), and
//   - TakeForced(), used by a reader that cannot get even one buffer for the range a
//     read needs, is always granted. Its excess is bounded by the bytes of the reads in
//     flight (FUSE's max_background x max_read), not by the number of open files, and it
//     is what keeps a stalled stream that holds memory from deadlocking another one.
//
// Readers use TryTake() and shrink their window when refused; writers use Take() and
// wait (their callback runs once the bytes are granted, on the thread that released
// them). Cached free buffers are evicted whenever a request would otherwise be refused
// or has to wait, so the cache never starves anyone, and when nobody has taken them for
// a while (TrimIdle, run by IdleTrimmer), so an idle process gives its memory back.
//
// Thread-safe. Lock order: BufferPool::mu_ before MemoryBudget::mu_. No callback runs
// under either lock. The pool must outlive every buffer it handed out.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace s3m {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes);

  // Grants `bytes` now if they fit and nobody is waiting (waiters are served first).
  bool TryAcquire(uint64_t bytes);
  // Grants `bytes` now or later, in FIFO order among waiters; `granted` must not block.
  // It may run inline, or later on the thread that calls Release().
  void Acquire(uint64_t bytes, std::function<void()> granted);
  // Grants `bytes` unconditionally (see TakeForced above); may exceed the limit.
  void ForceAcquire(uint64_t bytes);
  void Release(uint64_t bytes);

  uint64_t limit() const { return limit_; }
  uint64_t used() const;
  uint64_t peak() const;
  size_t waiters() const;
  // Since start (for metrics; relaxed reads, no lock): Acquire() calls that had to wait,
  // TryAcquire() calls refused, ForceAcquire() calls.
  uint64_t waits() const { return waits_.load(std::memory_order_relaxed); }
  uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }
  uint64_t forced() const { return forced_.load(std::memory_order_relaxed); }

 private:
  bool FitsLocked(uint64_t bytes) const;  // requires mu_
  void ChargeLocked(uint64_t bytes);      // requires mu_

  const uint64_t limit_;
  mutable std::mutex mu_;
  uint64_t used_ = 0;  // GUARDED_BY(mu_)
  uint64_t peak_ = 0;  // GUARDED_BY(mu_)
  struct Waiter {
    uint64_t bytes;
    std::function<void()> granted;
  };
  std::deque<Waiter> waiters_;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> waits_{0}, refusals_{0}, forced_{0};
};

// A buffer charged to the budget; returns its bytes (and its memory, to the pool) when
// the last reference goes. data() is page-aligned.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual char* data() = 0;
  virtual size_t capacity() const = 0;
};

// Recycles page-aligned buffers so steady streaming does not page-fault and zero fresh
// memory for every part: a freed buffer is kept and handed out again for a request of
// the same capacity (capacities are rounded up to whole pages). Buffers of 1 MiB and more
// are mapped with mmap and unmapped when freed, so freed memory leaves the process (glibc's
// malloc would keep large freed blocks in its heap once its mmap threshold has grown past
// them). Thread-safe.
class BufferPool {
 public:
  explicit BufferPool(MemoryBudget* budget, const Clock* clock = RealClock::Get());
  ~BufferPool();

  MemoryBudget* budget() const { return budget_; }

  // A buffer of at least `size` bytes, charged to the budget, or null when the budget
  // refuses (after evicting cached buffers).
  std::shared_ptr<Buffer> TryTake(size_t size);
  // Like TryTake, but waits for the budget: `done` gets the buffer, inline or later on the
  // thread that released memory. `done` must not block.
  void Take(size_t size, std::function<void(std::shared_ptr<Buffer>)> done);
  // Always returns a buffer, exceeding the limit if it must (see the file comment).
  std::shared_ptr<Buffer> TakeForced(size_t size);

  // Frees the cached free buffers (under memory pressure or at shutdown).
  void Trim();
  // Frees the cached buffers nobody has taken for `idle` or longer, so a mount gives its
  // memory back between jobs; returns the bytes freed. See IdleTrimmer.
  uint64_t TrimIdle(std::chrono::steady_clock::duration idle);
  uint64_t cached_bytes() const;

 private:
  class PooledBuffer;
  struct Block {
    char* data;
    size_t capacity;
    std::chrono::steady_clock::time_point returned;  // when it was cached
  };

  static size_t RoundToPages(size_t size);
  std::shared_ptr<Buffer> Wrap(char* data, size_t capacity);
  // Removes a cached block of exactly `capacity` and returns its memory, or null.
  char* TakeCachedLocked(size_t capacity);  // requires mu_
  // Moves every cached block into `out` (to be freed outside the lock).
  void EvictAllLocked(std::vector<Block>* out);           // requires mu_
  uint64_t FreeBlocks(const std::vector<Block>& blocks);  // frees and releases their bytes
  void Return(char* data, size_t capacity);

  MemoryBudget* budget_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::vector<Block> free_;  // GUARDED_BY(mu_)
  uint64_t free_bytes_ = 0;  // GUARDED_BY(mu_)
  int pending_takes_ = 0;    // GUARDED_BY(mu_): Take() calls waiting for the budget
};

// Calls pool->TrimIdle(idle) every `period` on its own thread until destroyed: memory
// cached for a stream that ended goes back to the system within idle + period, while
// buffers in steady use (recycled every few ms) are never touched.
class IdleTrimmer {
 public:
  IdleTrimmer(BufferPool* pool, std::chrono::milliseconds period, std::chrono::milliseconds idle);
  ~IdleTrimmer();
  IdleTrimmer(const IdleTrimmer&) = delete;
  IdleTrimmer& operator=(const IdleTrimmer&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace s3m
