// Tests of MemoryBudget (limits, FIFO waiters, the oversize exception) and BufferPool
// (alignment, reuse, cached buffers counted against and evicted for the budget).
#include "memory/memory_budget.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

namespace s3m {
namespace {

constexpr uint64_t kMiB = 1 << 20;

TEST(MemoryBudgetTest, TryAcquireRespectsLimit) {
  MemoryBudget b(10);
  EXPECT_TRUE(b.TryAcquire(6));
  EXPECT_FALSE(b.TryAcquire(5));
  EXPECT_TRUE(b.TryAcquire(4));
  EXPECT_EQ(b.used(), 10u);
  b.Release(10);
  EXPECT_EQ(b.used(), 0u);
  EXPECT_EQ(b.peak(), 10u);
}

TEST(MemoryBudgetTest, OversizedRequestGrantedWhenAlone) {
  MemoryBudget b(10);
  EXPECT_TRUE(b.TryAcquire(1));
  EXPECT_FALSE(b.TryAcquire(20));
  b.Release(1);
  EXPECT_TRUE(b.TryAcquire(20));
  b.Release(20);
}

TEST(MemoryBudgetTest, WaitersServedInOrderAndBeforeTryAcquire) {
  MemoryBudget b(10);
  ASSERT_TRUE(b.TryAcquire(10));
  std::vector<int> order;
  b.Acquire(6, [&] { order.push_back(1); });
  b.Acquire(4, [&] { order.push_back(2); });
  EXPECT_EQ(b.waiters(), 2u);
  EXPECT_FALSE(b.TryAcquire(1));  // waiters come first
  b.Release(6);
  EXPECT_EQ(order, (std::vector<int>{1}));
  b.Release(4);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(b.used(), 10u);
  EXPECT_EQ(b.waiters(), 0u);
}

TEST(MemoryBudgetTest, ForceAcquireExceedsLimit) {
  MemoryBudget b(10);
  ASSERT_TRUE(b.TryAcquire(10));
  b.ForceAcquire(5);
  EXPECT_EQ(b.used(), 15u);
  EXPECT_EQ(b.peak(), 15u);
  b.Release(15);
}

TEST(BufferPoolTest, AlignedChargedAndReused) {
  MemoryBudget budget(16 * kMiB);
  BufferPool pool(&budget);
  char* first = nullptr;
  {
    auto b = pool.TryTake(kMiB + 1);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % 4096, 0u);
    EXPECT_EQ(b->capacity(), kMiB + 4096);
    EXPECT_EQ(budget.used(), kMiB + 4096);
    first = b->data();
  }
  // Cached: still charged, and handed out again for the same capacity.
  EXPECT_EQ(pool.cached_bytes(), kMiB + 4096);
  EXPECT_EQ(budget.used(), kMiB + 4096);
  auto again = pool.TryTake(kMiB + 100);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->data(), first);
  EXPECT_EQ(budget.used(), kMiB + 4096);
  again.reset();
  pool.Trim();
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(pool.cached_bytes(), 0u);
}

TEST(BufferPoolTest, CachedBuffersEvictedWhenBudgetRefuses) {
  MemoryBudget budget(4 * kMiB);
  BufferPool pool(&budget);
  {
    auto a = pool.TryTake(kMiB);
    auto b = pool.TryTake(kMiB);
    auto c = pool.TryTake(kMiB);
    ASSERT_TRUE(a && b && c);
  }
  EXPECT_EQ(pool.cached_bytes(), 3 * kMiB);
  // A different size does not fit next to the cache: the cache is given back.
  auto big = pool.TryTake(2 * kMiB);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(pool.cached_bytes(), 0u);
  EXPECT_EQ(budget.used(), 2 * kMiB);
  EXPECT_LE(budget.peak(), 4 * kMiB);
  auto refused = pool.TryTake(3 * kMiB);
  EXPECT_EQ(refused, nullptr);
}

TEST(BufferPoolTest, TakeWaitsAndReturnedBufferIsNotCached) {
  MemoryBudget budget(2 * kMiB);
  BufferPool pool(&budget);
  auto a = pool.TryTake(kMiB);
  auto b = pool.TryTake(kMiB);
  ASSERT_TRUE(a && b);
  std::shared_ptr<Buffer> got;
  pool.Take(kMiB, [&](std::shared_ptr<Buffer> buf) { got = std::move(buf); });
  EXPECT_EQ(got, nullptr);
  EXPECT_EQ(budget.waiters(), 1u);
  a.reset();  // freed, not cached, so that the waiter gets the bytes
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(pool.cached_bytes(), 0u);
  EXPECT_EQ(budget.used(), 2 * kMiB);
  EXPECT_LE(budget.peak(), 2 * kMiB);
}

TEST(BufferPoolTest, TakeEvictsCacheInsteadOfWaiting) {
  MemoryBudget budget(2 * kMiB);
  BufferPool pool(&budget);
  pool.TryTake(2 * kMiB).reset();  // cached, still charged
  EXPECT_EQ(pool.cached_bytes(), 2 * kMiB);
  std::shared_ptr<Buffer> got;
  pool.Take(kMiB, [&](std::shared_ptr<Buffer> buf) { got = std::move(buf); });
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(budget.used(), kMiB);
}

TEST(BufferPoolTest, TakeForcedAlwaysSucceeds) {
  MemoryBudget budget(kMiB);
  BufferPool pool(&budget);
  auto a = pool.TryTake(kMiB);
  ASSERT_NE(a, nullptr);
  auto f = pool.TakeForced(64 * 1024);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(budget.used(), kMiB + 64 * 1024);
}

TEST(BufferPoolTest, ConcurrentTakersNeverExceedLimit) {
  constexpr uint64_t kLimit = 4 * kMiB;
  constexpr int kThreads = 4;
  constexpr int kRounds = 200;
  MemoryBudget budget(kLimit);
  BufferPool pool(&budget);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        std::promise<std::shared_ptr<Buffer>> p;
        auto f = p.get_future();
        pool.Take((t % 2 + 1) * kMiB,
                  [&p](std::shared_ptr<Buffer> b) { p.set_value(std::move(b)); });
        auto held = f.get();
        held->data()[0] = static_cast<char>(i);
        auto extra = pool.TryTake(kMiB);  // may be refused
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(budget.peak(), kLimit);
  pool.Trim();
  EXPECT_EQ(budget.used(), 0u);
}

// A buffer cached longer than `idle` is freed (its bytes back to the budget, its memory
// unmapped); one cached more recently stays.
TEST(BufferPoolTest, TrimIdleFreesOnlyBuffersIdleLongEnough) {
  MemoryBudget budget(16 * kMiB);
  FakeClock clock;
  BufferPool pool(&budget, &clock);
  auto a = pool.TryTake(kMiB);
  auto b = pool.TryTake(2 * kMiB);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::memset(a->data(), 1, kMiB);  // touched memory, as a part buffer would be
  a.reset();
  clock.Advance(std::chrono::seconds(8));
  b.reset();
  EXPECT_EQ(pool.cached_bytes(), 3 * kMiB);
  EXPECT_EQ(pool.TrimIdle(std::chrono::seconds(10)), 0u);  // a: 8 s, b: 0 s
  clock.Advance(std::chrono::seconds(3));
  EXPECT_EQ(pool.TrimIdle(std::chrono::seconds(10)), kMiB);  // a: 11 s
  EXPECT_EQ(pool.cached_bytes(), 2 * kMiB);
  EXPECT_EQ(budget.used(), 2 * kMiB);
  clock.Advance(std::chrono::seconds(10));
  EXPECT_EQ(pool.TrimIdle(std::chrono::seconds(10)), 2 * kMiB);
  EXPECT_EQ(budget.used(), 0u);
  // A buffer taken again is no longer idle: trimming never frees one in use.
  auto c = pool.TryTake(kMiB);
  clock.Advance(std::chrono::seconds(60));
  EXPECT_EQ(pool.TrimIdle(std::chrono::seconds(10)), 0u);
  EXPECT_EQ(budget.used(), kMiB);
}

// The trimmer's thread calls TrimIdle periodically and stops when destroyed.
TEST(BufferPoolTest, IdleTrimmerFreesCachedBuffers) {
  MemoryBudget budget(16 * kMiB);
  BufferPool pool(&budget);
  pool.TryTake(kMiB).reset();
  ASSERT_EQ(pool.cached_bytes(), kMiB);
  {
    IdleTrimmer trimmer(&pool, std::chrono::milliseconds(5), std::chrono::milliseconds(0));
    for (int i = 0; i < 2000 && pool.cached_bytes() != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  EXPECT_EQ(pool.cached_bytes(), 0u);
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace s3m
