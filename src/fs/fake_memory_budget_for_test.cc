// Test-only stand-ins for MemoryBudget and BufferPool, compiled into file_system_test only
// while the real s3m_memory library is not in the build. The file system core only
// passes the pool through to the data path, so these just count.
#include "memory/memory_budget.h"

namespace s3m {

MemoryBudget::MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}

bool MemoryBudget::TryAcquire(uint64_t bytes) {
  std::lock_guard l(mu_);
  used_ += bytes;
  return true;
}

void MemoryBudget::Release(uint64_t bytes) {
  std::lock_guard l(mu_);
  used_ -= bytes;
}

uint64_t MemoryBudget::used() const {
  std::lock_guard l(mu_);
  return used_;
}

BufferPool::BufferPool(MemoryBudget* budget) : budget_(budget) {}
BufferPool::~BufferPool() = default;

}  // namespace s3m
