#include "cache/caching_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "cache/block_cache.h"
#include "cache/memory_block_files.h"
#include "common/disk_wait.h"
#include "metrics/registry.h"
#include "s3/memory_object_client.h"

namespace s3m {
namespace {

constexpr uint64_t kBlock = 64 << 10;

std::string Pattern(uint64_t n, char seed) {
  std::string s(n, 0);
  for (uint64_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 13 + i / 509);
  return s;
}

// Records the GETs that reach the store.
class Recorder : public ForwardingClient {
 public:
  using ForwardingClient::ForwardingClient;
  struct Range {
    uint64_t offset, length;
    bool operator==(const Range&) const = default;
  };
  void GetObject(GetObjectParams p, Callback<GetObjectResult> done) override {
    {
      std::lock_guard l(mu_);
      gets_.push_back({p.offset, p.length});
    }
    ForwardingClient::GetObject(std::move(p), std::move(done));
  }
  std::vector<Range> TakeGets() {
    std::lock_guard l(mu_);
    return std::exchange(gets_, {});
  }

 private:
  std::mutex mu_;
  std::vector<Range> gets_;
};

// Counts the lookups that reach a store.
class CountingStore : public BlockStore {
 public:
  explicit CountingStore(BlockStore* inner) : inner_(inner) {}
  std::optional<BlockHit> Get(const ObjectVersion& v, uint64_t index, char* out) override {
    ++lookups;
    return inner_->Get(v, index, out);
  }
  std::optional<BlockHit> GetRange(const ObjectVersion& v, uint64_t index, uint64_t from,
                                   uint64_t to, char* out) override {
    ++lookups;
    return inner_->GetRange(v, index, from, to, out);
  }
  using BlockStore::Put;
  void Put(const ObjectVersion& v, uint64_t index, uint64_t object_size, const char* data,
           uint64_t bytes, Reuse reuse) override {
    inner_->Put(v, index, object_size, data, bytes, reuse);
  }
  uint64_t block_bytes() const override { return inner_->block_bytes(); }
  std::atomic<int> lookups{0};

 private:
  BlockStore* const inner_;
};

class CachingClientTest : public ::testing::Test {
 protected:
  CachingClientTest() : mem_(MemoryObjectClient::Options{.async = true}), rec_(&mem_) {
    auto files = std::make_unique<MemoryBlockFiles>();
    files_ = files.get();
    auto opened = BlockCache::Open(std::move(files), {.block_bytes = kBlock}, {});
    cache_ = std::move(*opened);
    client_ = std::make_unique<CachingClient>(&rec_, cache_.get(), "test-store bucket", 2);
  }

  std::string Put(const std::string& key, std::string data) {
    mem_.Put(key, std::move(data));
    return mem_.Info(key)->etag;
  }

  struct Got {
    Result<GetObjectResult> r;
    std::string bytes;
    uint64_t last_progress = 0;
  };
  Got Read(const std::string& key, uint64_t offset, uint64_t length, const std::string& etag) {
    std::string buf(length, '\0');
    std::atomic<uint64_t> progress{0};
    GetObjectParams p;
    p.key = key;
    p.offset = offset;
    p.length = length;
    p.if_match = etag;
    p.buffer = buf.data();
    p.on_progress = [&progress](uint64_t n) { progress = std::max<uint64_t>(progress, n); };
    auto r = Wait<GetObjectResult>([&](auto cb) { client_->GetObject(std::move(p), cb); });
    if (r.ok()) buf.resize(r->bytes);
    return Got{std::move(r), buf, progress.load()};
  }

  MemoryObjectClient mem_;
  Recorder rec_;
  MemoryBlockFiles* files_;
  std::unique_ptr<BlockCache> cache_;
  std::unique_ptr<CachingClient> client_;
};

TEST_F(CachingClientTest, ASecondReadOfAVersionCostsNoGet) {
  std::string data = Pattern(5 * kBlock + 100, 1);
  std::string etag = Put("a", data);
  Got first = Read("a", 0, data.size(), etag);
  ASSERT_TRUE(first.r.ok()) << first.r.status().ToString();
  EXPECT_EQ(first.bytes, data);
  EXPECT_EQ(first.r->object_size, data.size());
  EXPECT_EQ(rec_.TakeGets(), (std::vector<Recorder::Range>{{0, 6 * kBlock}}));
  client_->WaitForWrites();  // a read of more than a block is kept behind its reader
  EXPECT_EQ(cache_->blocks(), 6u);  // the short last block too

  Got second = Read("a", 0, data.size(), etag);
  ASSERT_TRUE(second.r.ok());
  EXPECT_EQ(second.bytes, data);
  EXPECT_EQ(second.r->object_size, data.size());
  EXPECT_TRUE(rec_.TakeGets().empty());
  // Any range of it, too.
  Got middle = Read("a", kBlock + 7, 3 * kBlock, etag);
  EXPECT_EQ(middle.bytes, data.substr(kBlock + 7, 3 * kBlock));
  Got tail = Read("a", 5 * kBlock + 50, 1000, etag);  // asks past the end: clipped
  EXPECT_EQ(tail.bytes, data.substr(5 * kBlock + 50));
  EXPECT_TRUE(rec_.TakeGets().empty());
}

TEST_F(CachingClientTest, ARandomReadFetchesItsWholeBlockForItsNeighbours) {
  std::string data = Pattern(8 * kBlock, 2);
  std::string etag = Put("r", data);
  Got a = Read("r", 3 * kBlock + 4096, 4096, etag);
  EXPECT_EQ(a.bytes, data.substr(3 * kBlock + 4096, 4096));
  EXPECT_EQ(rec_.TakeGets(), (std::vector<Recorder::Range>{{3 * kBlock, kBlock}}));
  Got b = Read("r", 3 * kBlock + 40960, 4096, etag);
  EXPECT_EQ(b.bytes, data.substr(3 * kBlock + 40960, 4096));
  EXPECT_TRUE(rec_.TakeGets().empty());
  // Straddling two blocks, one cached: only the other is fetched.
  Got c = Read("r", 4 * kBlock - 100, 200, etag);
  EXPECT_EQ(c.bytes, data.substr(4 * kBlock - 100, 200));
  EXPECT_EQ(rec_.TakeGets(), (std::vector<Recorder::Range>{{4 * kBlock, kBlock}}));
}

TEST_F(CachingClientTest, AStreamsBlocksGoPastThePageCacheARandomReadsDoNot) {
  std::string data = Pattern(4 * kBlock, 9);
  std::string etag = Put("s", data);
  // A part of whole blocks, as the prefetcher asks: fetched into the reader's buffer.
  ASSERT_EQ(Read("s", 0, 2 * kBlock, etag).bytes, data.substr(0, 2 * kBlock));
  EXPECT_EQ(cache_->blocks(), 2u);
  EXPECT_EQ(files_->bypassing_writes(), 1u);  // the part's blocks and trailers in one
  // A random read: its block is widened, and its neighbours will be read soon.
  ASSERT_EQ(Read("s", 3 * kBlock + 10, 100, etag).bytes, data.substr(3 * kBlock + 10, 100));
  EXPECT_EQ(cache_->blocks(), 3u);
  EXPECT_EQ(files_->bypassing_writes(), 1u);
}

// A stream's blocks are written behind its reader, holding the reader's buffer; past the
// backlog's bound a part is answered and not kept.
TEST_F(CachingClientTest, AStreamIsAnsweredBeforeItsBlocksAreWrittenWithinABacklog) {
  metrics::Registry registry;
  metrics::Counter* skipped = registry.AddCounter("skipped", "");
  CachingClient client(&rec_, cache_.get(), "test-store bucket", 2,
                       {.max_backlog_bytes = 2 * kBlock, .skipped_bytes = skipped});
  std::string data = Pattern(4 * kBlock, 5);
  std::string etag = Put("b", data);
  auto read = [&](uint64_t offset, std::weak_ptr<const void>* held) {
    auto buffer = std::make_shared<std::string>(2 * kBlock, '\0');
    *held = buffer;
    GetObjectParams p;
    p.key = "b";
    p.offset = offset;
    p.length = 2 * kBlock;
    p.if_match = etag;
    p.buffer = buffer->data();
    p.buffer_owner = buffer;
    auto r = Wait<GetObjectResult>([&](auto cb) { client.GetObject(std::move(p), cb); });
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(*buffer, data.substr(offset, 2 * kBlock));
  };
  files_->HoldWrites(true);  // the disk is behind: the reader is answered all the same
  std::weak_ptr<const void> first, second;
  read(0, &first);
  read(2 * kBlock, &second);
  EXPECT_FALSE(first.expired());  // held until its blocks are written
  EXPECT_TRUE(second.expired());  // past the bound: not kept, not held
  EXPECT_EQ(skipped->Value(), 2 * kBlock);
  files_->HoldWrites(false);
  client.WaitForWrites();
  EXPECT_TRUE(first.expired());
  EXPECT_EQ(cache_->blocks(), 2u);
  EXPECT_EQ(files_->bypassing_writes(), 1u);
  rec_.TakeGets();
  std::weak_ptr<const void> again;
  read(0, &again);
  EXPECT_TRUE(rec_.TakeGets().empty());  // the kept part is served from the cache
}

// A part that is not block-aligned (of a stream that began off the block grid, after a
// seek) is widened, answered, and its blocks written behind like any other part's.
TEST_F(CachingClientTest, AnUnalignedPartIsAnsweredBeforeItsBlocksAreWritten) {
  std::string data = Pattern(4 * kBlock, 6);
  std::string etag = Put("u", data);
  files_->HoldWrites(true);
  Got part = Read("u", kBlock / 2, 2 * kBlock, etag);
  EXPECT_EQ(part.bytes, data.substr(kBlock / 2, 2 * kBlock));
  EXPECT_EQ(rec_.TakeGets(), (std::vector<Recorder::Range>{{0, 3 * kBlock}}));
  EXPECT_EQ(cache_->blocks(), 0u);
  files_->HoldWrites(false);
  client_->WaitForWrites();
  EXPECT_EQ(cache_->blocks(), 3u);
  EXPECT_EQ(files_->bypassing_writes(), 1u);  // a stream's: asked past the page cache, one write
  EXPECT_EQ(Read("u", 0, 3 * kBlock, etag).bytes, data.substr(0, 3 * kBlock));
  EXPECT_TRUE(rec_.TakeGets().empty());
}

TEST_F(CachingClientTest, OnlyTheMissingTailIsFetchedAndProgressIsTold) {
  std::string data = Pattern(6 * kBlock, 3);
  std::string etag = Put("p", data);
  ASSERT_TRUE(Read("p", 0, 2 * kBlock, etag).r.ok());
  rec_.TakeGets();
  Got all = Read("p", 0, 6 * kBlock, etag);
  EXPECT_EQ(all.bytes, data);
  EXPECT_EQ(rec_.TakeGets(), (std::vector<Recorder::Range>{{2 * kBlock, 4 * kBlock}}));
  EXPECT_GE(all.last_progress, 2 * kBlock);
}

TEST_F(CachingClientTest, ANewVersionIsNeverServedTheOldBytes) {
  std::string v1 = Pattern(2 * kBlock, 4), v2 = Pattern(2 * kBlock, 5);
  std::string e1 = Put("v", v1);
  ASSERT_EQ(Read("v", 0, v1.size(), e1).bytes, v1);
  std::string e2 = Put("v", v2);
  ASSERT_NE(e1, e2);
  rec_.TakeGets();
  EXPECT_EQ(Read("v", 0, v2.size(), e2).bytes, v2);
  EXPECT_EQ(rec_.TakeGets().size(), 1u);
  EXPECT_EQ(Read("v", 0, v2.size(), e2).bytes, v2);
  EXPECT_TRUE(rec_.TakeGets().empty());
}

TEST_F(CachingClientTest, StoreErrorsReachTheReaderAndNothingIsKept) {
  std::string etag = Put("e", Pattern(kBlock, 6));
  Got stale = Read("e", 0, kBlock, "\"not-the-etag\"");
  ASSERT_FALSE(stale.r.ok());
  EXPECT_EQ(stale.r.status().code(), Code::kPreconditionFailed);
  Got missing = Read("nope", 0, kBlock, etag);
  ASSERT_FALSE(missing.r.ok());
  EXPECT_EQ(missing.r.status().code(), Code::kNotFound);
  EXPECT_EQ(cache_->blocks(), 0u);
}

TEST_F(CachingClientTest, AFullDiskIsAMissNotAnError) {
  std::string data = Pattern(3 * kBlock, 7);
  std::string etag = Put("f", data);
  files_->FailWrites(true);
  EXPECT_EQ(Read("f", 0, data.size(), etag).bytes, data);
  EXPECT_EQ(Read("f", 0, data.size(), etag).bytes, data);
  EXPECT_EQ(rec_.TakeGets().size(), 2u);
  EXPECT_EQ(cache_->blocks(), 0u);
}

TEST_F(CachingClientTest, ADamagedBlockIsFetchedAgain) {
  std::string data = Pattern(2 * kBlock, 8);
  std::string etag = Put("d", data);
  ASSERT_EQ(Read("d", 0, data.size(), etag).bytes, data);
  for (const auto& [name, bytes] : files_->files()) files_->Damage(name, 10);
  rec_.TakeGets();
  EXPECT_EQ(Read("d", 0, data.size(), etag).bytes, data);
  EXPECT_EQ(rec_.TakeGets(), (std::vector<Recorder::Range>{{0, 2 * kBlock}}));
}

TEST_F(CachingClientTest, WithoutAnEtagNothingIsCached) {
  std::string data = Pattern(kBlock, 9);
  Put("n", data);
  EXPECT_EQ(Read("n", 0, data.size(), "").bytes, data);
  EXPECT_EQ(Read("n", 0, data.size(), "").bytes, data);
  EXPECT_EQ(rec_.TakeGets().size(), 2u);
  EXPECT_EQ(cache_->blocks(), 0u);
}

TEST_F(CachingClientTest, ConcurrentReadersOfOneObject) {
  std::string data = Pattern(16 * kBlock, 10);
  std::string etag = Put("c", data);
  std::vector<std::thread> readers;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 6; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        uint64_t off = static_cast<uint64_t>((i * 5 + t) % 16) * kBlock + 100 * t;
        uint64_t len = std::min<uint64_t>(2 * kBlock, data.size() - off);
        if (Read("c", off, len, etag).bytes != data.substr(off, len)) wrong++;
      }
    });
  }
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0);
  size_t gets = rec_.TakeGets().size();
  EXPECT_LT(gets, 120u);  // most of the 120 reads were hits
  client_->WaitForWrites();  // reads of two blocks keep theirs behind the reader
  EXPECT_EQ(Read("c", 0, data.size(), etag).bytes, data);
  EXPECT_TRUE(rec_.TakeGets().empty());
}

TEST_F(CachingClientTest, GetNowAnswersAHitAtOnceAndAMissIsLookedUpOnce) {
  std::string data = Pattern(4 * kBlock, 12);
  std::string etag = Put("n", data);
  CountingStore store(cache_.get());
  CachingClient client(&rec_, &store, "test-store bucket", 2);
  std::string buf(4096, '\0');
  const GetNowParams p{"n", etag, kBlock + 100, 4096, buf.data()};
  EXPECT_EQ(client.GetNow(p), std::nullopt);  // not on a thread that may wait on the disk
  EXPECT_EQ(store.lookups, 0);

  MayWaitOnDisk fuse_worker;
  EXPECT_EQ(client.GetNow(p), std::nullopt);  // a miss
  EXPECT_EQ(store.lookups, 1);
  // The reader's GET that follows on this thread fetches the block without a second lookup.
  GetObjectParams g;
  g.key = "n";
  g.offset = kBlock + 100;
  g.length = 4096;
  g.if_match = etag;
  g.buffer = buf.data();
  auto r = Wait<GetObjectResult>([&](auto cb) { client.GetObject(std::move(g), cb); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(buf, data.substr(kBlock + 100, 4096));
  EXPECT_EQ(store.lookups, 1);
  EXPECT_EQ(rec_.TakeGets(), (std::vector<Recorder::Range>{{kBlock, kBlock}}));

  // A hit: the bytes, no GET.
  std::fill(buf.begin(), buf.end(), '\0');
  const GetNowParams q{"n", etag, kBlock + 9000, 4096, buf.data()};
  EXPECT_EQ(client.GetNow(q), std::optional<uint64_t>(4096));
  EXPECT_EQ(buf, data.substr(kBlock + 9000, 4096));
  EXPECT_EQ(store.lookups, 2);
  EXPECT_TRUE(rec_.TakeGets().empty());
  // Two blocks, or another version: not answered now.
  EXPECT_EQ(client.GetNow(GetNowParams{"n", etag, 2 * kBlock - 100, 200, buf.data()}),
            std::nullopt);
  EXPECT_EQ(store.lookups, 2);
  EXPECT_EQ(client.GetNow(GetNowParams{"n", "\"other\"", kBlock + 9000, 4096, buf.data()}),
            std::nullopt);
  EXPECT_EQ(store.lookups, 3);  // the other version's block, looked for and not there
  EXPECT_TRUE(rec_.TakeGets().empty());
}

}  // namespace
}  // namespace s3m

namespace s3m {
namespace {

TEST_F(CachingClientTest, ASmallHitOnAThreadThatMayWaitIsServedOnIt) {
  std::string data = Pattern(4 * kBlock, 11);
  std::string etag = Put("w", data);
  ASSERT_EQ(Read("w", 0, data.size(), etag).bytes, data);
  auto served_on = [&](uint64_t length) {
    MayWaitOnDisk fuse_worker;
    std::string buf(length, '\0');
    std::promise<std::thread::id> on;
    GetObjectParams p;
    p.key = "w";
    p.offset = kBlock + 100;
    p.length = length;
    p.if_match = etag;
    p.buffer = buf.data();
    client_->GetObject(std::move(p), [&](Result<GetObjectResult> r) {
      EXPECT_TRUE(r.ok());
      on.set_value(std::this_thread::get_id());
    });
    std::thread::id where = on.get_future().get();
    EXPECT_EQ(buf, data.substr(kBlock + 100, length));
    return where;
  };
  EXPECT_EQ(served_on(4096), std::this_thread::get_id());      // a random read: right here
  EXPECT_NE(served_on(2 * kBlock), std::this_thread::get_id());  // a part: on a worker
  EXPECT_TRUE(rec_.TakeGets().size() == 1);  // only the first fill reached the store
}

}  // namespace
}  // namespace s3m
