#include "cache/block_cache.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cache/memory_block_files.h"
#include "metrics/registry.h"

namespace s3m {
namespace {

constexpr uint64_t kBlock = 64 << 10;  // small blocks keep the tests quick
constexpr uint64_t kDisk = kBlock + 4096;  // a full block's disk: its bytes and trailer page
constexpr uint64_t kSlot = kDisk;          // where block i starts in its version's file: i * kSlot

std::string Pattern(uint64_t n, char seed) {
  std::string s(n, 0);
  for (uint64_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7 + i / 251);
  return s;
}

struct Fixture {
  explicit Fixture(CacheOptions o = {}) {
    o.block_bytes = kBlock;
    auto f = std::make_unique<MemoryBlockFiles>();
    files = f.get();
    m.hits = registry.AddCounter("hits", "");
    m.misses = registry.AddCounter("misses", "");
    m.evictions = registry.AddCounter("evictions", "");
    m.errors = registry.AddCounter("errors", "");
    auto opened = BlockCache::Open(std::move(f), o, m);
    cache = std::move(*opened);
  }
  std::optional<std::string> Get(const std::string& v, uint64_t i) {
    std::string out(kBlock, 0);
    auto hit = cache->Get(v, i, out.data());
    if (!hit) return std::nullopt;
    out.resize(hit->bytes);
    return out;
  }
  metrics::Registry registry;
  CacheMetrics m;
  MemoryBlockFiles* files;
  std::unique_ptr<BlockCache> cache;
};

const std::string kV1 = ObjectVersionId("http://s3 b", "data/x", "\"etag-1\"");
const std::string kV2 = ObjectVersionId("http://s3 b", "data/x", "\"etag-2\"");

TEST(BlockCacheTest, AVersionIdIgnoresQuotesAndNamesEveryPart) {
  EXPECT_EQ(kV1, ObjectVersionId("http://s3 b", "data/x", "etag-1"));
  EXPECT_NE(kV1, kV2);
  EXPECT_NE(kV1, ObjectVersionId("http://s3 b", "data/y", "etag-1"));
  EXPECT_NE(kV1, ObjectVersionId("http://other b", "data/x", "etag-1"));
  EXPECT_EQ(kV1.size(), 64u);
}

TEST(BlockCacheTest, ServesWhatWasPutAndOnlyForThatVersionAndBlock) {
  Fixture f;
  std::string a = Pattern(kBlock, 1), last = Pattern(1000, 2);
  f.cache->Put(kV1, 0, kBlock + 1000, a.data(), a.size());
  f.cache->Put(kV1, 1, kBlock + 1000, last.data(), last.size());
  EXPECT_EQ(f.Get(kV1, 0), a);
  EXPECT_EQ(f.Get(kV1, 1), last);
  std::string out(kBlock, 0);
  EXPECT_EQ(f.cache->Get(kV1, 1, out.data())->object_size, kBlock + 1000);
  EXPECT_EQ(f.Get(kV2, 0), std::nullopt);  // the ETag changed: never the old bytes
  EXPECT_EQ(f.Get(kV1, 2), std::nullopt);
  EXPECT_EQ(f.m.hits->Value(), 3u);
  EXPECT_EQ(f.m.misses->Value(), 2u);
  EXPECT_EQ(f.cache->used_bytes(), kDisk + 4096 + 4096);  // 1000 bytes take a page
  EXPECT_EQ(f.files->files().size(), 1u);                // one file per version
  EXPECT_EQ(f.files->allocated_bytes(), f.cache->used_bytes());
}

TEST(BlockCacheTest, ADamagedOrCutBlockIsAMissAndGoes) {
  Fixture f;
  std::string a = Pattern(kBlock, 3);
  f.cache->Put(kV1, 0, 10 * kBlock, a.data(), a.size());
  f.cache->Put(kV1, 1, 10 * kBlock, a.data(), a.size());
  f.cache->Put(kV1, 2, 10 * kBlock, a.data(), a.size());
  auto names = f.files->files();
  ASSERT_EQ(names.size(), 1u);
  const std::string file = names.begin()->first;
  f.files->Damage(file, 12345);                  // in block 0's data
  f.files->Damage(file, kSlot + kBlock + 20);    // in block 1's trailer
  f.files->Cut(file, 2 * kSlot + kBlock / 2);    // block 2 cut short
  for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(f.Get(kV1, i), std::nullopt) << i;
  EXPECT_EQ(f.m.errors->Value(), 3u);
  EXPECT_TRUE(f.files->files().empty());  // the version's last block took its file along
  EXPECT_EQ(f.cache->used_bytes(), 0u);
  f.cache->Put(kV1, 0, 10 * kBlock, a.data(), a.size());  // fetched again, kept again
  EXPECT_EQ(f.Get(kV1, 0), a);
}

// Readers that find the same damaged block at once count it once, and it goes once.
TEST(BlockCacheTest, ADamagedBlockFoundByManyReadersIsOneError) {
  Fixture f;
  std::string a = Pattern(kBlock, 5);
  f.cache->Put(kV1, 0, kBlock, a.data(), a.size());
  f.files->Damage(f.files->files().begin()->first, 100);
  std::vector<std::thread> readers;
  std::atomic<int> served{0};
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] {
      if (f.Get(kV1, 0)) ++served;
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(served.load(), 0);
  EXPECT_EQ(f.m.errors->Value(), 1u);
  EXPECT_EQ(f.m.misses->Value(), 8u);
  EXPECT_TRUE(f.files->files().empty());
}

// The files of `from` written into `to` as a copy with holes would be: pages of zeros are
// not written.
void CopyWithHoles(const MemoryBlockFiles& from, MemoryBlockFiles* to) {
  for (const auto& [name, bytes] : from.files()) {
    for (uint64_t at = 0; at < bytes.size(); at += 4096) {
      std::string page = bytes.substr(at, 4096);
      if (page.find_first_not_of('\0') == std::string::npos) continue;
      ASSERT_TRUE(to->WriteAt(name, at, {{page.data(), page.size()}}, PageCache::kKeep).ok());
    }
  }
}

// A cache opened on a version's file with two blocks far apart reads their two trailers,
// not one per slot between them.
TEST(BlockCacheTest, OpeningReadsTheTrailersOfTheBlocksThereOnly) {
  Fixture f;
  std::string a = Pattern(kBlock, 1), b = Pattern(kBlock, 2);
  f.cache->Put(kV1, 0, 1000 * kBlock, a.data(), a.size());
  f.cache->Put(kV1, 200, 1000 * kBlock, b.data(), b.size());
  auto owned = std::make_unique<MemoryBlockFiles>();
  MemoryBlockFiles* files = owned.get();
  CopyWithHoles(*f.files, files);
  ASSERT_EQ(files->allocated_bytes(), 2 * kDisk);
  auto opened = BlockCache::Open(std::move(owned), {.block_bytes = kBlock}, {});
  auto cache = std::move(*opened);
  EXPECT_EQ(cache->blocks(), 2u);
  EXPECT_EQ(files->bytes_read(), 2 * kBlockTrailerBytes);
  std::string out(kBlock, 0);
  ASSERT_TRUE(cache->Get(kV1, 200, out.data()));
  EXPECT_EQ(out, b);
}

TEST(BlockCacheTest, EvictsTheLeastRecentlyUsedWithinTheBound) {
  Fixture f(CacheOptions{.max_bytes = 3 * kDisk});
  std::string a = Pattern(kBlock, 4);
  for (uint64_t i = 0; i < 3; ++i) f.cache->Put(kV1, i, 100 * kBlock, a.data(), a.size());
  ASSERT_TRUE(f.Get(kV1, 0));  // 0 is now the most recent; 1 the least
  f.cache->Put(kV1, 3, 100 * kBlock, a.data(), a.size());
  EXPECT_EQ(f.Get(kV1, 1), std::nullopt);
  EXPECT_TRUE(f.Get(kV1, 0));
  EXPECT_TRUE(f.Get(kV1, 2));
  EXPECT_TRUE(f.Get(kV1, 3));
  EXPECT_EQ(f.m.evictions->Value(), 1u);
  for (uint64_t i = 4; i < 40; ++i) {
    f.cache->Put(kV1, i, 100 * kBlock, a.data(), a.size());
    ASSERT_LE(f.cache->used_bytes(), 3 * kDisk);
    ASSERT_EQ(f.files->allocated_bytes(), f.cache->used_bytes());  // evicted slots punched
  }
  // Another version's blocks take the room: the first version's file goes with its last.
  for (uint64_t i = 0; i < 3; ++i) f.cache->Put(kV2, i, 3 * kBlock, a.data(), a.size());
  EXPECT_EQ(f.files->files().size(), 1u);
  EXPECT_EQ(f.files->allocated_bytes(), 3 * kDisk);
}

TEST(BlockCacheTest, ABlockUsedSinceItCameGetsASecondChance) {
  // CLOCK: a use marks a block; a marked block due to go goes back to the front instead.
  Fixture f(CacheOptions{.max_bytes = 4 * kDisk});
  std::string a = Pattern(kBlock, 5);
  for (uint64_t i = 0; i < 4; ++i) f.cache->Put(kV1, i, 100 * kBlock, a.data(), a.size());
  ASSERT_TRUE(f.Get(kV1, 2));
  ASSERT_TRUE(f.Get(kV1, 0));  // the oldest, used: spared once
  f.cache->Put(kV1, 4, 100 * kBlock, a.data(), a.size());
  EXPECT_EQ(f.Get(kV1, 1), std::nullopt);  // the oldest unused goes
  f.cache->Put(kV1, 5, 100 * kBlock, a.data(), a.size());
  EXPECT_EQ(f.Get(kV1, 3), std::nullopt);  // not 2, used
  EXPECT_EQ(f.m.evictions->Value(), 2u);   // a first-in-first-out cache would have taken 0 and 1
  for (uint64_t i : {0, 2, 4, 5}) EXPECT_TRUE(f.Get(kV1, i)) << i;
}

TEST(BlockCacheTest, AHotBlockUsedSinceItCameStaysHot) {
  auto owned = std::make_unique<MemoryBlockFiles>();
  MemoryBlockFiles* files = owned.get();
  auto opened = BlockCache::Open(std::move(owned), {.block_bytes = kBlock, .hot_blocks = 2}, {});
  auto cache = std::move(*opened);
  ObjectVersion v{"k", "\"e\"", ObjectVersionId("s", "k", "e"), 0};
  std::string a = Pattern(kBlock, 6);
  std::string out(4096, 0);
  for (uint64_t i = 0; i < 3; ++i) cache->Put(v, i, 3 * kBlock, a.data(), a.size());
  auto piece_reads = [&](uint64_t i) {  // 1: a hot block's piece; more: the whole block
    uint64_t before = files->bytes_read();
    EXPECT_TRUE(cache->GetRange(v, i, 8192, 8192 + 4096, out.data()));
    EXPECT_EQ(out, a.substr(8192, 4096));
    return (files->bytes_read() - before) / 4096;
  };
  EXPECT_GT(piece_reads(0), 1u);  // made hot
  EXPECT_GT(piece_reads(1), 1u);
  EXPECT_EQ(piece_reads(0), 1u);  // used while hot
  EXPECT_GT(piece_reads(2), 1u);  // one must cool: 1, not 0
  EXPECT_EQ(cache->hot_blocks(), 2u);
  EXPECT_EQ(piece_reads(0), 1u);
  EXPECT_EQ(piece_reads(2), 1u);
  EXPECT_GT(piece_reads(1), 1u);
}

TEST(BlockCacheTest, AFailedWriteIsDroppedNeverAnError) {
  Fixture f;
  f.files->FailWrites(true);
  std::string a = Pattern(kBlock, 5);
  f.cache->Put(kV1, 0, kBlock, a.data(), a.size());
  EXPECT_EQ(f.Get(kV1, 0), std::nullopt);
  EXPECT_EQ(f.m.errors->Value(), 1u);
  EXPECT_EQ(f.cache->used_bytes(), 0u);
  f.files->FailWrites(false);
  f.cache->Put(kV1, 0, kBlock, a.data(), a.size());
  EXPECT_EQ(f.Get(kV1, 0), a);
}

// A stream's part is one run: one write for its whole blocks and trailers (a short last
// block's trailer is a second), read back as the blocks Put would have kept.
TEST(BlockCacheTest, ARunOfBlocksIsOneWrite) {
  Fixture f;
  const uint64_t size = 4 * kBlock + 1000;
  std::string data = Pattern(size, 8);
  f.cache->PutRun(kV1, 0, size, data.data(), size, Reuse::kLater);
  EXPECT_EQ(f.files->writes(), 2u);
  EXPECT_EQ(f.cache->blocks(), 5u);
  EXPECT_EQ(f.cache->used_bytes(), 4 * kDisk + 2 * 4096);  // the last: a page and a trailer
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(f.Get(kV1, i), data.substr(i * kBlock, kBlock));
  std::string out(kBlock, 0);
  EXPECT_EQ(f.cache->Get(kV1, 4, out.data())->object_size, size);

  // Blocks there already are left out: the run is written around them, one write each side.
  std::string kept = Pattern(kBlock, 9);
  f.cache->Put(kV2, 1, 4 * kBlock, kept.data(), kBlock);
  const size_t before = f.files->writes();
  f.cache->PutRun(kV2, 0, 4 * kBlock, data.data(), 4 * kBlock, Reuse::kLater);
  EXPECT_EQ(f.files->writes() - before, 2u);
  EXPECT_EQ(f.Get(kV2, 0), data.substr(0, kBlock));
  EXPECT_EQ(f.Get(kV2, 1), kept);
  EXPECT_EQ(f.Get(kV2, 3), data.substr(3 * kBlock, kBlock));
}

TEST(BlockCacheTest, ARunThatFailsIsDroppedWhole) {
  Fixture f;
  std::string data = Pattern(3 * kBlock, 10);
  f.files->FailWrites(true);
  f.cache->PutRun(kV1, 0, 3 * kBlock, data.data(), data.size(), Reuse::kLater);
  EXPECT_EQ(f.cache->blocks(), 0u);
  EXPECT_EQ(f.cache->used_bytes(), 0u);
  EXPECT_EQ(f.m.errors->Value(), 3u);  // one per block not kept
  f.files->FailWrites(false);
  f.cache->PutRun(kV1, 0, 3 * kBlock, data.data(), data.size(), Reuse::kLater);
  EXPECT_EQ(f.cache->blocks(), 3u);
  EXPECT_EQ(f.Get(kV1, 2), data.substr(2 * kBlock));
}

// As Put one block at a time would: the oldest go first, the run's own first blocks last.
TEST(BlockCacheTest, ARunLargerThanTheBoundKeepsItsLastBlocks) {
  Fixture f(CacheOptions{.max_bytes = 3 * kDisk});
  std::string old = Pattern(kBlock, 11), data = Pattern(5 * kBlock, 12);
  f.cache->Put(kV2, 0, kBlock, old.data(), kBlock);
  f.cache->PutRun(kV1, 0, 5 * kBlock, data.data(), data.size(), Reuse::kLater);
  EXPECT_EQ(f.cache->blocks(), 3u);
  EXPECT_LE(f.cache->used_bytes(), 3 * kDisk);
  EXPECT_EQ(f.Get(kV2, 0), std::nullopt);
  EXPECT_EQ(f.Get(kV1, 1), std::nullopt);
  for (uint64_t i = 2; i < 5; ++i) EXPECT_EQ(f.Get(kV1, i), data.substr(i * kBlock, kBlock));
}

TEST(BlockCacheTest, WithoutABoundItKeepsFivePercentOfTheDiskFree) {
  Fixture f;
  std::string a = Pattern(kBlock, 6);
  f.files->SetSpace({.free_bytes = 50 * kDisk, .total_bytes = 100 * kDisk});
  for (uint64_t i = 0; i < 4; ++i) f.cache->Put(kV1, i, 100 * kBlock, a.data(), a.size());
  EXPECT_EQ(f.cache->blocks(), 4u);
  // The disk filled up (with other files): 5% is 5 blocks, 4 are free; adding one more
  // needs two blocks' room, so the two oldest go.
  f.files->SetSpace({.free_bytes = 4 * kDisk, .total_bytes = 100 * kDisk});
  f.cache->Put(kV1, 4, 100 * kBlock, a.data(), a.size());
  EXPECT_EQ(f.Get(kV1, 0), std::nullopt);
  EXPECT_EQ(f.Get(kV1, 1), std::nullopt);
  EXPECT_TRUE(f.Get(kV1, 2));
  EXPECT_TRUE(f.Get(kV1, 4));
  // Nothing left to give back: a block that does not fit is not written.
  Fixture empty;
  empty.files->SetSpace({.free_bytes = 0, .total_bytes = 100 * kDisk});
  empty.cache->Put(kV1, 0, kBlock, a.data(), a.size());
  EXPECT_EQ(empty.cache->blocks(), 0u);
  EXPECT_TRUE(empty.files->files().empty());
}

// Without a bound a run makes its room at once; what still does not fit is its first blocks.
TEST(BlockCacheTest, WithoutABoundARunKeepsFivePercentOfTheDiskFree) {
  Fixture f;
  std::string a = Pattern(4 * kBlock, 13);
  // 5% is 5 blocks and 7 are free: the run's last two fit.
  f.files->SetSpace({.free_bytes = 7 * kDisk, .total_bytes = 100 * kDisk});
  f.cache->PutRun(kV1, 0, 4 * kBlock, a.data(), a.size(), Reuse::kLater);
  EXPECT_EQ(f.cache->blocks(), 2u);
  EXPECT_EQ(f.Get(kV1, 1), std::nullopt);
  EXPECT_EQ(f.Get(kV1, 2), a.substr(2 * kBlock, kBlock));
  EXPECT_EQ(f.Get(kV1, 3), a.substr(3 * kBlock, kBlock));
  // A second run needs four blocks' room past the 7 free: the first run's two go for it.
  f.cache->PutRun(kV2, 0, 4 * kBlock, a.data(), a.size(), Reuse::kLater);
  EXPECT_EQ(f.cache->blocks(), 4u);
  EXPECT_EQ(f.Get(kV1, 3), std::nullopt);
  EXPECT_EQ(f.Get(kV2, 0), a.substr(0, kBlock));
  // A run of blocks all there already makes no room: nothing is evicted for it.
  f.files->SetSpace({.free_bytes = 0, .total_bytes = 100 * kDisk});
  f.cache->PutRun(kV2, 0, 4 * kBlock, a.data(), a.size(), Reuse::kLater);
  EXPECT_EQ(f.cache->blocks(), 4u);
}

// Four versions of four blocks in room for eight: slots are punched and files removed and
// made again while other threads read and write them.
TEST(BlockCacheTest, ManyThreadsShareOneCache) {
  Fixture f(CacheOptions{.max_bytes = 8 * kDisk, .hot_blocks = 3});
  std::vector<std::string> versions, blocks;
  for (int v = 0; v < 4; ++v) versions.push_back(ObjectVersionId("s", "k", fmt::format("e{}", v)));
  for (int i = 0; i < 16; ++i) blocks.push_back(Pattern(kBlock, static_cast<char>(i)));
  std::vector<std::string> runs(4);  // each version's four blocks, one after another
  for (int i = 0; i < 16; ++i) runs[i / 4] += blocks[i];
  std::atomic<int> wrong{0}, hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::string out(kBlock, 0);
      for (int round = 0; round < 300; ++round) {
        auto b = static_cast<uint64_t>((round * 7 + t) % 16);
        const std::string& v = versions[b / 4];
        const uint64_t i = b % 4;
        ObjectVersion ov{"k", "e", v, 0};
        std::optional<BlockHit> hit;
        const uint64_t at = (b * 4099) % (kBlock - 100);
        if (round % 2 == 0) {
          hit = f.cache->Get(v, i, out.data());
          if (hit && out != blocks[b]) wrong++;
        } else {
          hit = f.cache->GetRange(ov, i, at, at + 100, out.data());
          if (hit && out.compare(0, 100, blocks[b], at, 100) != 0) wrong++;
        }
        const Reuse reuse = t % 2 == 0 ? Reuse::kSoon : Reuse::kLater;
        if (!hit && t % 3 == 0 && i < 3) {  // this block and the next, as a stream keeps them
          f.cache->PutRun(v, i, 4 * kBlock, runs[b / 4].data() + i * kBlock, 2 * kBlock, reuse);
        } else if (!hit) {
          f.cache->Put(v, i, 4 * kBlock, blocks[b].data(), kBlock, reuse);
        } else {
          hits++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(hits.load(), 0);
  EXPECT_EQ(f.m.errors->Value(), 0u);
  EXPECT_LE(f.cache->used_bytes(), 8 * kDisk);
  EXPECT_EQ(f.files->allocated_bytes(), f.cache->used_bytes());
  EXPECT_LE(f.files->files().size(), 4u);
}

class PosixBlockFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cache_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

std::string FileOf(const std::string& root, const std::string& version) {
  return root + "/" + version.substr(0, 2) + "/" + version;
}

// Blocks are found again after a remount, the files written last the last to go. A slot a
// crash left without its trailer is freed, and a file that is not a version's removed.
TEST_F(PosixBlockFilesTest, BlocksSurviveARemountAndHalfWrittenOnesGo) {
  std::string root = dir_ + "/c";
  const std::string kV3 = ObjectVersionId("http://s3 b", "data/x", "\"etag-3\"");
  std::string a = Pattern(kBlock, 7), b = Pattern(kBlock, 8), c = Pattern(kBlock, 9);
  {
    auto files = OpenPosixBlockFiles(root);
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    auto opened = BlockCache::Open(std::move(*files), {.block_bytes = kBlock}, {});
    auto cache = std::move(*opened);
    cache->Put(kV1, 0, 2 * kBlock, a.data(), a.size());
    usleep(20000);  // distinct mtimes: kV1's file is the older
    // Far into its file, past a hole of 340 MB the scan at start-up skips (SEEK_DATA).
    cache->Put(kV2, 5000, 5001 * kBlock, b.data(), b.size());
  }
  // A crash while block 1 of kV1 was written: its bytes are there, its trailer is not.
  {
    std::fstream f(FileOf(root, kV1), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(kSlot));
    f.write(c.data(), static_cast<std::streamsize>(c.size()));
  }
  ::utimensat(AT_FDCWD, FileOf(root, kV1).c_str(), nullptr, 0);  // now kV2's is older
  ::utimensat(AT_FDCWD, FileOf(root, kV2).c_str(),
              std::array<timespec, 2>{timespec{1, 0}, timespec{1, 0}}.data(), 0);
  ASSERT_GE(AllocatedBytes(FileOf(root, kV1)), kDisk + kBlock);
  std::ofstream(root + "/" + kV1.substr(0, 2) + "/leftover.7.tmp") << "half a block";
  auto files = OpenPosixBlockFiles(root);
  ASSERT_TRUE(files.ok());
  auto opened =
      BlockCache::Open(std::move(*files), {.max_bytes = 2 * kDisk, .block_bytes = kBlock}, {});
  auto cache = std::move(*opened);
  EXPECT_EQ(cache->blocks(), 2u);  // kV1's 0 and kV2's 5000
  EXPECT_EQ(cache->used_bytes(), 2 * kDisk);
  EXPECT_FALSE(std::filesystem::exists(root + "/" + kV1.substr(0, 2) + "/leftover.7.tmp"));
  EXPECT_LT(AllocatedBytes(FileOf(root, kV1)), kDisk + kBlock / 2);  // block 1's bytes freed
  std::string out(kBlock, 0);
  EXPECT_FALSE(cache->Get(kV1, 1, out.data()));
  ASSERT_TRUE(cache->Get(kV1, 0, out.data()));
  EXPECT_EQ(out, a);
  // kV2's block, in the older file and not read since, is the first to go; its file too.
  cache->Put(kV3, 0, kBlock, c.data(), c.size());
  EXPECT_FALSE(cache->Get(kV2, 5000, out.data()));
  EXPECT_FALSE(std::filesystem::exists(FileOf(root, kV2)));
  ASSERT_TRUE(cache->Get(kV3, 0, out.data()));
  EXPECT_EQ(out, c);
  EXPECT_TRUE(cache->Get(kV1, 0, out.data()));
}

size_t OpenFds() {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                           std::filesystem::directory_iterator()));
}

// A block written past the page cache (O_DIRECT for its aligned bytes, the trailer through
// the page cache) reads back whole, in a cache of small blocks and of real 1 MiB ones.
TEST_F(PosixBlockFilesTest, BlocksWrittenPastThePageCacheReadBackWhole) {
  for (uint64_t block : {kBlock, kCacheBlockBytes}) {
    std::filesystem::remove_all(dir_ + "/c");
    auto files = OpenPosixBlockFiles(dir_ + "/c");
    ASSERT_TRUE(files.ok());
    auto opened = BlockCache::Open(std::move(*files), {.block_bytes = block}, {});
    auto cache = std::move(*opened);
    // Page-aligned memory, as the reader's buffers are; and a short last block, which is not.
    std::unique_ptr<char, decltype(&std::free)> aligned(
        static_cast<char*>(std::aligned_alloc(4096, block)), &std::free);
    std::string a = Pattern(block, 3), last = Pattern(1000, 4);
    std::memcpy(aligned.get(), a.data(), block);
    cache->Put(kV1, 0, block + 1000, aligned.get(), block, Reuse::kLater);
    cache->Put(kV1, 1, block + 1000, last.data(), last.size(), Reuse::kLater);
    cache->Put(kV2, 0, block, a.data() + 1, block - 1, Reuse::kLater);  // unaligned memory
    ASSERT_EQ(cache->blocks(), 3u);
    std::string out(block, 0);
    ASSERT_TRUE(cache->Get(kV1, 0, out.data()));
    EXPECT_EQ(out, a);
    auto hit = cache->Get(kV1, 1, out.data());
    ASSERT_TRUE(hit);
    EXPECT_EQ(out.substr(0, hit->bytes), last);
    hit = cache->Get(kV2, 0, out.data());
    ASSERT_TRUE(hit);
    EXPECT_EQ(out.substr(0, hit->bytes), a.substr(1));
    // A run: whole blocks past the page cache in one write, its short last block through it.
    const std::string v3 = ObjectVersionId("http://s3 b", "data/run", "e");
    const uint64_t size = 3 * block + 1000;
    std::unique_ptr<char, decltype(&std::free)> run(
        static_cast<char*>(std::aligned_alloc(4096, 4 * block)), &std::free);
    std::string all = Pattern(size, 5);
    std::memcpy(run.get(), all.data(), size);
    cache->PutRun(v3, 0, size, run.get(), size, Reuse::kLater);
    ASSERT_EQ(cache->blocks(), 7u);
    for (uint64_t i = 0; i < 4; ++i) {
      hit = cache->Get(v3, i, out.data());
      ASSERT_TRUE(hit) << i;
      EXPECT_EQ(out.substr(0, hit->bytes), all.substr(i * block, block)) << i;
    }
  }
}

// Pages of `path` in the page cache.
size_t ResidentPages(const std::string& path, size_t pages) {
  int fd = ::open(path.c_str(), O_RDONLY);
  void* map = ::mmap(nullptr, pages * 4096, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return SIZE_MAX;
  std::vector<unsigned char> in(pages);
  const bool ok = ::mincore(map, pages * 4096, in.data()) == 0;
  ::munmap(map, pages * 4096);
  size_t n = 0;
  for (unsigned char c : in) n += c & 1;
  return ok ? n : SIZE_MAX;
}

// A block file is read as asked: reads of a file not in the page cache bring in their
// pages, not the kernel's readahead window past them (which, in a punched slot, it would
// zero). Reads one after another are what the kernel would read ahead for.
TEST_F(PosixBlockFilesTest, AReadOfABlockFileBringsInOnlyWhatItAsks) {
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir_.c_str(), &fs), 0);
  if (fs.f_type == TMPFS_MAGIC) GTEST_SKIP() << "tmpfs keeps every page: no readahead to see";
  auto files = OpenPosixBlockFiles(dir_ + "/c");
  ASSERT_TRUE(files.ok());
  constexpr size_t kPages = 64;
  std::string data = Pattern(kPages * 4096, 7);
  ASSERT_TRUE((*files)->WriteAt("ab/f", 0, {{data.data(), data.size()}}, PageCache::kKeep).ok());
  const std::string path = dir_ + "/c/ab/f";
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fsync(fd), 0);  // clean pages, which the advice below drops
  ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  ::close(fd);
  ASSERT_EQ(ResidentPages(path, kPages), 0u);
  auto file = (*files)->Open("ab/f");
  ASSERT_TRUE(file.ok());
  char page[4096];
  for (uint64_t i = 10; i < 14; ++i) {
    auto n = (*file)->Read(i * 4096, {{page, sizeof page}});
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, sizeof page);
    EXPECT_EQ(std::string(page, sizeof page), data.substr(i * 4096, 4096));
  }
  const size_t resident = ResidentPages(path, kPages);
  if (resident == 0) GTEST_SKIP() << "this file system keeps no pages of its files";
  EXPECT_EQ(resident, 4u);
}

// Blocks read at random stay hot, the most recently used within the bound: their piece
// CRCs in memory and their version's file open, one file for all of a version's hot blocks.
// A version with no hot block closes its file, and a version that leaves the cache takes its
// file along, so no disk space is held.
TEST_F(PosixBlockFilesTest, HotBlocksKeepTheirFilesOpenWithinTheBound) {
  auto files = OpenPosixBlockFiles(dir_ + "/c");
  ASSERT_TRUE(files.ok());
  auto opened = BlockCache::Open(
      std::move(*files), {.max_bytes = 20 * kDisk, .block_bytes = kBlock, .hot_blocks = 4}, {});
  auto cache = std::move(*opened);
  std::vector<ObjectVersion> versions;
  std::vector<std::string> blocks;
  for (int i = 0; i < 10; ++i) {
    std::string etag = fmt::format("\"etag-{}\"", i);
    versions.push_back({"data/x", etag, ObjectVersionId("s", "data/x", etag), 0});
    blocks.push_back(Pattern(kBlock, static_cast<char>(i)));
    for (uint64_t b = 0; b < 2; ++b) {
      cache->Put(versions[i], b, 2 * kBlock, blocks[i].data(), kBlock, Reuse::kLater);
    }
  }
  EXPECT_EQ(cache->hot_blocks(), 0u);  // a stream's blocks are not hot
  const size_t before = OpenFds();
  std::string out(100, 0);
  auto read = [&](int v, uint64_t b) {
    for (uint64_t at : {20000, 30000}) {  // the first read makes it hot, the second opens it
      ASSERT_TRUE(cache->GetRange(versions[v], b, at, at + 100, out.data()));
      EXPECT_EQ(out, blocks[v].substr(at, 100)) << v;
    }
  };
  for (int v = 0; v < 10; ++v) {
    read(v, 0);
    read(v, 1);
  }
  EXPECT_EQ(cache->hot_blocks(), 4u);  // both blocks of versions 8 and 9: two files
  EXPECT_EQ(cache->open_files(), 2u);
  EXPECT_EQ(OpenFds(), before + 2);
  for (int v = 0; v < 10; ++v) read(v, 0);
  EXPECT_EQ(cache->hot_blocks(), 4u);  // block 0 of versions 6 to 9: four files
  EXPECT_EQ(cache->open_files(), 4u);
  EXPECT_EQ(OpenFds(), before + 4);
  for (uint64_t i = 0; i < 20; ++i) cache->Put(kV2, i, 20 * kBlock, blocks[0].data(), kBlock);
  EXPECT_EQ(cache->blocks(), 20u);  // the others all evicted, their files removed
  EXPECT_EQ(cache->hot_blocks(), 4u);  // kV2's, hot as written (kSoon), not yet opened
  EXPECT_EQ(cache->open_files(), 0u);
  EXPECT_EQ(OpenFds(), before);
  size_t names = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/c")) {
    names += e.is_regular_file() ? 1 : 0;
  }
  EXPECT_EQ(names, 2u);  // kV2's file and the lock
}

// Files that are not a version's (by their name) are removed when a cache opens.
TEST_F(PosixBlockFilesTest, FilesThatAreNotBlocksAreRemovedAtOpen) {
  std::string root = dir_ + "/c";
  std::string a = Pattern(kBlock, 1);
  {
    auto files = OpenPosixBlockFiles(root);
    auto opened = BlockCache::Open(std::move(*files), {.block_bytes = kBlock}, {});
    (*opened)->Put(kV1, 3, 4 * kBlock, a.data(), a.size());
  }
  std::filesystem::create_directories(root + "/zz");
  std::ofstream(root + "/zz/not-a-block.3") << std::string(200, 'x');
  const std::string old_layout = FileOf(root, kV1) + ".3";  // a file per block, as before
  std::ofstream(old_layout) << std::string(200, 'x');
  auto files = OpenPosixBlockFiles(root);
  auto opened = BlockCache::Open(std::move(*files), {.block_bytes = kBlock}, {});
  auto cache = std::move(*opened);
  EXPECT_EQ(cache->blocks(), 1u);
  EXPECT_FALSE(std::filesystem::exists(root + "/zz/not-a-block.3"));
  EXPECT_FALSE(std::filesystem::exists(old_layout));
  std::string out(kBlock, 0);
  EXPECT_TRUE(cache->Get(kV1, 3, out.data()));
  EXPECT_EQ(out, a);
}

TEST_F(PosixBlockFilesTest, OneMountPerCacheFolder) {
  auto first = OpenPosixBlockFiles(dir_ + "/c");
  ASSERT_TRUE(first.ok());
  auto second = OpenPosixBlockFiles(dir_ + "/c");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use by another s3mount"), std::string::npos)
      << second.status().message();
  first->reset();
  EXPECT_TRUE(OpenPosixBlockFiles(dir_ + "/c").ok());
  EXPECT_FALSE(OpenPosixBlockFiles("/proc/no/such/dir").ok());
}

}  // namespace
}  // namespace s3m

namespace s3m {
namespace {

constexpr uint64_t kBig = 4 * kCheckedPieceBytes;  // a block of four checked pieces

std::string Filled(uint64_t n, char seed) {
  std::string s(n, 0);
  for (uint64_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 11 + i / 4093);
  return s;
}

TEST(BlockCacheRangeTest, ARangeReadReadsAndChecksOnlyItsPieces) {
  auto owned = std::make_unique<MemoryBlockFiles>();
  MemoryBlockFiles* files = owned.get();
  auto opened = BlockCache::Open(std::move(owned), {.block_bytes = kBig}, {});
  auto cache = std::move(*opened);
  ObjectVersion v{"k", "\"e\"", ObjectVersionId("s", "k", "e"), 0};
  std::string a = Filled(kBig - 1000, 1);  // an object's short last block
  cache->Put(v, 3, 3 * kBig + a.size(), a.data(), a.size());

  uint64_t before = files->bytes_read();
  std::string out(1000, 0);
  const uint64_t at = kCheckedPieceBytes + 100;  // within the second piece
  auto hit = cache->GetRange(v, 3, at, at + 1000, out.data());
  ASSERT_TRUE(hit);
  EXPECT_EQ(out, a.substr(at, 1000));
  EXPECT_EQ(hit->bytes, a.size());
  EXPECT_EQ(hit->object_size, 3 * kBig + a.size());
  EXPECT_EQ(files->bytes_read() - before, kCheckedPieceBytes);  // one piece, not the block

  // Across two pieces, and past the block's end (clipped).
  std::string two(200, 0);
  ASSERT_TRUE(cache->GetRange(v, 3, kCheckedPieceBytes - 100, kCheckedPieceBytes + 100, two.data()));
  EXPECT_EQ(two, a.substr(kCheckedPieceBytes - 100, 200));
  std::string tail(2000, 0);
  ASSERT_TRUE(cache->GetRange(v, 3, a.size() - 500, a.size() + 1500, tail.data()));
  EXPECT_EQ(tail.substr(0, 500), a.substr(a.size() - 500));

  // Whole pieces, read straight into the caller's buffer.
  std::string whole(kCheckedPieceBytes, 0);
  ASSERT_TRUE(cache->GetRange(v, 3, kCheckedPieceBytes, 2 * kCheckedPieceBytes, whole.data()));
  EXPECT_EQ(whole, a.substr(kCheckedPieceBytes, kCheckedPieceBytes));

  // Damage in the last piece: reads of the first still hit; a read of the last misses and
  // the block goes.
  files->Damage(files->files().begin()->first,
                3 * (kBig + 4096) + 3 * kCheckedPieceBytes + 10);  // block 3's slot
  ASSERT_TRUE(cache->GetRange(v, 3, 0, 1000, out.data()));
  EXPECT_EQ(out, a.substr(0, 1000));
  EXPECT_FALSE(cache->GetRange(v, 3, 3 * kCheckedPieceBytes, 4 * kCheckedPieceBytes,
                               whole.data()));  // whole pieces: checked in place
  EXPECT_EQ(cache->blocks(), 0u);
}

TEST(BlockCacheRangeTest, AfterARemountTheFirstRangeReadChecksTheWholeBlock) {
  ObjectVersion v{"k", "\"e\"", ObjectVersionId("s", "k", "e"), 0};
  std::string a = Filled(kBig, 2);
  auto before_owned = std::make_unique<MemoryBlockFiles>();
  MemoryBlockFiles* before_files = before_owned.get();
  auto before_opened = BlockCache::Open(std::move(before_owned), {.block_bytes = kBig}, {});
  (*before_opened)->Put(v, 0, kBig, a.data(), a.size());
  // The same files seen by a new cache (a remount): no piece checks in memory yet.
  auto owned = std::make_unique<MemoryBlockFiles>();
  MemoryBlockFiles* files = owned.get();
  for (const auto& [name, bytes] : before_files->files()) {
    ASSERT_TRUE(owned->WriteAt(name, 0, {{const_cast<char*>(bytes.data()), bytes.size()}},
                               PageCache::kKeep)
                    .ok());
  }
  auto opened = BlockCache::Open(std::move(owned), {.block_bytes = kBig}, {});
  auto cache = std::move(*opened);
  ASSERT_EQ(cache->blocks(), 1u);
  std::string out(4096, 0);
  uint64_t read = files->bytes_read();
  ASSERT_TRUE(cache->GetRange(v, 0, 5000, 5000 + 4096, out.data()));
  EXPECT_EQ(out, a.substr(5000, 4096));
  EXPECT_GE(files->bytes_read() - read, kBig);  // the whole block, checked
  read = files->bytes_read();
  const uint64_t at = 2 * kCheckedPieceBytes + 1000;
  out.resize(1000);
  ASSERT_TRUE(cache->GetRange(v, 0, at, at + 1000, out.data()));
  EXPECT_EQ(out, a.substr(at, 1000));
  EXPECT_EQ(files->bytes_read() - read, kCheckedPieceBytes);  // then its piece only
}

}  // namespace
}  // namespace s3m
