// MemoryBudget: the one bound on data buffers (prefetch windows and upload parts) for the
// whole process, and BufferPool, which hands out reusable part buffers charged to it.
//
// Readers ask with TryAcquire() and shrink their window when refused; writers ask with
// Acquire() and wait (their callback runs once the bytes are granted, on the thread that
// released them). A request larger than the whole budget is granted when nothing else is
// held, so one oversized part cannot deadlock. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace s3m {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes);

  bool TryAcquire(uint64_t bytes);
  // Grants `bytes` now or later, in FIFO order among waiters; `granted` must not block.
  void Acquire(uint64_t bytes, std::function<void()> granted);
  void Release(uint64_t bytes);

  uint64_t limit() const { return limit_; }
  uint64_t used() const;
  uint64_t peak() const;
  size_t waiters() const;

 private:
  const uint64_t limit_;
  mutable std::mutex mu_;
  uint64_t used_ = 0;  // GUARDED_BY(mu_)
  uint64_t peak_ = 0;  // GUARDED_BY(mu_)
  struct Waiter {
    uint64_t bytes;
    std::function<void()> granted;
  };
  std::deque<Waiter> waiters_;  // GUARDED_BY(mu_)
};

// A buffer charged to the budget; returns its bytes (and its memory, to the pool) when
// the last reference goes.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual char* data() = 0;
  virtual size_t capacity() const = 0;
};

// Recycles page-aligned buffers of common sizes so steady streaming does not page-fault
// and zero fresh memory for every part. Thread-safe.
class BufferPool {
 public:
  explicit BufferPool(MemoryBudget* budget);
  ~BufferPool();

  MemoryBudget* budget() const { return budget_; }
  // A buffer of at least `size` bytes whose bytes the caller has already acquired from
  // the budget; the buffer releases them when destroyed.
  std::shared_ptr<Buffer> Take(size_t size);
  // Frees the cached free buffers (under memory pressure or at shutdown).
  void Trim();

 private:
  class PooledBuffer;
  void Return(char* data, size_t capacity);

  MemoryBudget* budget_;
  std::mutex mu_;
  std::vector<std::pair<char*, size_t>> free_;  // GUARDED_BY(mu_)
  size_t free_bytes_ = 0;                       // GUARDED_BY(mu_)
};

}  // namespace s3m
