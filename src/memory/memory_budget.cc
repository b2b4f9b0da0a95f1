// MemoryBudget and BufferPool; see memory_budget.h for the contract and lock order.
#include "memory/memory_budget.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>

namespace s3m {
namespace {

// Buffers are page-aligned and sized in whole pages: the kernel copies to and from whole
// pages fastest, and O_DIRECT-style consumers need the alignment. 4 KiB is the page size
// of every platform s3mount targets (x86-64, aarch64 with 4 KiB pages).
constexpr size_t kPageSize = 4096;

// Buffers this large are mapped on their own, so freeing one returns its memory to the
// system; smaller ones (random-read chunks, small files, whose sizes vary) come from
// malloc, which reuses freed memory without new page faults or system calls.
constexpr size_t kMapMinBytes = 1 << 20;

char* Allocate(size_t capacity) {
  void* p = nullptr;
  if (capacity >= kMapMinBytes) {
    p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) p = nullptr;
  } else if (posix_memalign(&p, kPageSize, capacity) != 0) {
    p = nullptr;
  }
  // Out of memory is a crash, not an error: the budget exists to keep us clear of it.
  if (p == nullptr) std::abort();
  return static_cast<char*>(p);
}

void Deallocate(char* data, size_t capacity) {
  if (capacity >= kMapMinBytes) {
    munmap(data, capacity);
  } else {
    std::free(data);
  }
}

}  // namespace

MemoryBudget::MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}

bool MemoryBudget::FitsLocked(uint64_t bytes) const {
  // The oversize exception: a request larger than the whole limit gets it all, alone.
  return used_ + bytes <= limit_ || used_ == 0;
}

void MemoryBudget::ChargeLocked(uint64_t bytes) {
  used_ += bytes;
  if (used_ > peak_) peak_ = used_;
}

bool MemoryBudget::TryAcquire(uint64_t bytes) {
  std::lock_guard l(mu_);
  if (!waiters_.empty() || !FitsLocked(bytes)) {
    refusals_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  ChargeLocked(bytes);
  return true;
}

void MemoryBudget::Acquire(uint64_t bytes, std::function<void()> granted) {
  {
    std::lock_guard l(mu_);
    if (!waiters_.empty() || !FitsLocked(bytes)) {
      waiters_.push_back(Waiter{bytes, std::move(granted)});
      waits_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    ChargeLocked(bytes);
  }
  granted();
}

void MemoryBudget::ForceAcquire(uint64_t bytes) {
  forced_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard l(mu_);
  ChargeLocked(bytes);
}

void MemoryBudget::Release(uint64_t bytes) {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard l(mu_);
    if (bytes > used_) std::abort();  // a broken invariant: more released than acquired
    used_ -= bytes;
    while (!waiters_.empty() && FitsLocked(waiters_.front().bytes)) {
      ChargeLocked(waiters_.front().bytes);
      ready.push_back(std::move(waiters_.front().granted));
      waiters_.pop_front();
    }
  }
  for (auto& fn : ready) fn();
}

uint64_t MemoryBudget::used() const {
  std::lock_guard l(mu_);
  return used_;
}

uint64_t MemoryBudget::peak() const {
  std::lock_guard l(mu_);
  return peak_;
}

size_t MemoryBudget::waiters() const {
  std::lock_guard l(mu_);
  return waiters_.size();
}

class BufferPool::PooledBuffer final : public Buffer {
 public:
  PooledBuffer(BufferPool* pool, char* data, size_t capacity)
      : pool_(pool), data_(data), capacity_(capacity) {}
  ~PooledBuffer() override { pool_->Return(data_, capacity_); }
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;

  char* data() override { return data_; }
  size_t capacity() const override { return capacity_; }

 private:
  BufferPool* pool_;
  char* data_;
  size_t capacity_;
};

BufferPool::BufferPool(MemoryBudget* budget, const Clock* clock) : budget_(budget), clock_(clock) {}

BufferPool::~BufferPool() {
  Trim();
}

size_t BufferPool::RoundToPages(size_t size) {
  if (size == 0) size = 1;
  return (size + kPageSize - 1) / kPageSize * kPageSize;
}

std::shared_ptr<Buffer> BufferPool::Wrap(char* data, size_t capacity) {
  if (data == nullptr) data = Allocate(capacity);
  return std::make_shared<PooledBuffer>(this, data, capacity);
}

char* BufferPool::TakeCachedLocked(size_t capacity) {
  // The most recently cached first, so that when fewer buffers are in use than are
  // cached, the same ones cycle and the rest age out (TrimIdle).
  for (size_t i = free_.size(); i-- > 0;) {
    if (free_[i].capacity != capacity) continue;
    char* data = free_[i].data;
    free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
    free_bytes_ -= capacity;
    return data;
  }
  return nullptr;
}

void BufferPool::EvictAllLocked(std::vector<Block>* out) {
  out->insert(out->end(), free_.begin(), free_.end());
  free_.clear();
  free_bytes_ = 0;
}

uint64_t BufferPool::FreeBlocks(const std::vector<Block>& blocks) {
  uint64_t bytes = 0;
  for (const Block& b : blocks) {
    Deallocate(b.data, b.capacity);
    bytes += b.capacity;
  }
  if (bytes > 0) budget_->Release(bytes);
  return bytes;
}

std::shared_ptr<Buffer> BufferPool::TryTake(size_t size) {
  const size_t capacity = RoundToPages(size);
  {
    std::lock_guard l(mu_);
    char* cached = TakeCachedLocked(capacity);  // its bytes are already charged
    if (cached != nullptr) return Wrap(cached, capacity);
  }
  if (budget_->TryAcquire(capacity)) return Wrap(nullptr, capacity);
  // Refused: give the cached buffers back to the budget and ask once more.
  std::vector<Block> evicted;
  {
    std::lock_guard l(mu_);
    EvictAllLocked(&evicted);
  }
  if (evicted.empty()) return nullptr;
  FreeBlocks(evicted);
  if (budget_->TryAcquire(capacity)) return Wrap(nullptr, capacity);
  return nullptr;
}

void BufferPool::Take(size_t size, std::function<void(std::shared_ptr<Buffer>)> done) {
  if (auto b = TryTake(size)) {
    done(std::move(b));
    return;
  }
  const size_t capacity = RoundToPages(size);
  std::vector<Block> evicted;
  {
    std::lock_guard l(mu_);
    pending_takes_++;  // from now on Return() frees instead of caching
    EvictAllLocked(&evicted);
  }
  FreeBlocks(evicted);
  budget_->Acquire(capacity, [this, capacity, done = std::move(done)] {
    {
      std::lock_guard l(mu_);
      pending_takes_--;
    }
    done(Wrap(nullptr, capacity));
  });
}

std::shared_ptr<Buffer> BufferPool::TakeForced(size_t size) {
  if (auto b = TryTake(size)) return b;
  const size_t capacity = RoundToPages(size);
  budget_->ForceAcquire(capacity);
  return Wrap(nullptr, capacity);
}

void BufferPool::Return(char* data, size_t capacity) {
  {
    std::lock_guard l(mu_);
    // Keep it (still charged) unless someone waits for memory: then it must go back.
    if (pending_takes_ == 0 && budget_->waiters() == 0) {
      free_.push_back(Block{data, capacity, clock_->Monotonic()});
      free_bytes_ += capacity;
      return;
    }
  }
  FreeBlocks({Block{data, capacity, {}}});
}

void BufferPool::Trim() {
  std::vector<Block> evicted;
  {
    std::lock_guard l(mu_);
    EvictAllLocked(&evicted);
  }
  FreeBlocks(evicted);
}

uint64_t BufferPool::TrimIdle(std::chrono::steady_clock::duration idle) {
  const auto cutoff = clock_->Monotonic() - idle;
  std::vector<Block> evicted;
  {
    std::lock_guard l(mu_);
    auto old = std::stable_partition(free_.begin(), free_.end(),
                                     [&](const Block& b) { return b.returned > cutoff; });
    for (auto it = old; it != free_.end(); ++it) free_bytes_ -= it->capacity;
    evicted.assign(old, free_.end());
    free_.erase(old, free_.end());
  }
  return FreeBlocks(evicted);
}

IdleTrimmer::IdleTrimmer(BufferPool* pool, std::chrono::milliseconds period,
                         std::chrono::milliseconds idle)
    : thread_([this, pool, period, idle] {
        std::unique_lock l(mu_);
        while (!cv_.wait_for(l, period, [this] { return stop_; })) {
          l.unlock();
          pool->TrimIdle(idle);
          l.lock();
        }
      }) {}

IdleTrimmer::~IdleTrimmer() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t BufferPool::cached_bytes() const {
  std::lock_guard l(mu_);
  return free_bytes_;
}

}  // namespace s3m
