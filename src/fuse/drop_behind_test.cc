#include "fuse/drop_behind.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace s3m {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// Records the drops; `mapped_pids` are the processes that map every file.
struct Recorder {
  std::mutex mu;
  std::vector<DropBehind::Range> drops;
  std::vector<int> mapped_pids;

  DropBehind::Hooks Hooks() {
    DropBehind::Hooks h;
    h.drop = [this](const DropBehind::Range& r) {
      std::lock_guard l(mu);
      drops.push_back(r);
    };
    h.mapped = [this](int pid, uint64_t) {
      std::lock_guard l(mu);
      for (int p : mapped_pids) {
        if (p == pid) return true;
      }
      return false;
    };
    return h;
  }
};

// Reads [from, to) of file handle `fh` in 1 MiB requests, as the kernel's readahead does.
void Stream(DropBehind& db, uint64_t fh, uint64_t from, uint64_t to, int pid = 100) {
  for (uint64_t off = from; off < to; off += kMiB) db.OnRead(fh, /*ino=*/7, pid, off, kMiB);
  db.Flush();
}

TEST(DropBehindTest, DropsWhatASequentialReaderLeftFarBehind) {
  Recorder rec;
  DropBehind db(rec.Hooks(), /*lag=*/32 * kMiB, /*batch=*/16 * kMiB);
  Stream(db, 1, 0, 48 * kMiB);  // end 48: 16 MiB are 32 behind
  ASSERT_EQ(rec.drops.size(), 1u);
  EXPECT_EQ(rec.drops[0].ino, 7u);
  EXPECT_EQ(rec.drops[0].offset, 0u);
  EXPECT_EQ(rec.drops[0].length, 16 * kMiB);
  Stream(db, 1, 48 * kMiB, 100 * kMiB);  // end 100: up to 68 may go, in batches of >= 16
  ASSERT_EQ(rec.drops.size(), 4u);
  EXPECT_EQ(rec.drops[3].offset + rec.drops[3].length, 64 * kMiB);
  for (size_t i = 1; i < rec.drops.size(); i++) {
    EXPECT_EQ(rec.drops[i].offset, rec.drops[i - 1].offset + rec.drops[i - 1].length);
  }
  EXPECT_EQ(db.dropped_bytes(), 64 * kMiB);
}

TEST(DropBehindTest, ShortStreamsAndRandomReadsKeepTheirPages) {
  Recorder rec;
  DropBehind db(rec.Hooks(), 32 * kMiB, 16 * kMiB);
  Stream(db, 1, 0, 47 * kMiB);  // one MiB short of lag + batch
  // Reads 20 MiB apart: each one is a skip, so no stream grows.
  for (uint64_t off = 0; off < 2000 * kMiB; off += 20 * kMiB) db.OnRead(2, 7, 100, off, kMiB);
  db.Flush();
  EXPECT_TRUE(rec.drops.empty());
}

TEST(DropBehindTest, ASeekBackStartsANewStreamAndNeverDropsAheadOfIt) {
  Recorder rec;
  DropBehind db(rec.Hooks(), 32 * kMiB, 16 * kMiB);
  Stream(db, 1, 0, 64 * kMiB);  // drops [0, 16) and [16, 32)
  ASSERT_EQ(rec.drops.size(), 2u);
  Stream(db, 1, 8 * kMiB, 40 * kMiB);  // back into the dropped part: a new stream at 8
  EXPECT_EQ(rec.drops.size(), 2u);
  Stream(db, 1, 40 * kMiB, 60 * kMiB);  // end 56: [8, 24) is 32 behind
  ASSERT_EQ(rec.drops.size(), 3u);
  EXPECT_EQ(rec.drops[2].offset, 8 * kMiB);
  EXPECT_EQ(rec.drops[2].length, 16 * kMiB);
}

TEST(DropBehindTest, ReadsOutOfOrderWithinTheWindowStayOneStream) {
  Recorder rec;
  DropBehind db(rec.Hooks(), 32 * kMiB, 16 * kMiB);
  // Pairs of requests answered in swapped order, as two workers may take them.
  for (uint64_t off = 0; off < 64 * kMiB; off += 2 * kMiB) {
    db.OnRead(1, 7, 100, off + kMiB, kMiB);
    db.OnRead(1, 7, 100, off, kMiB);
  }
  db.Flush();
  ASSERT_EQ(rec.drops.size(), 2u);
  EXPECT_EQ(rec.drops[0].offset, 0u);
  EXPECT_EQ(db.dropped_bytes(), 32 * kMiB);
}

TEST(DropBehindTest, AReaderThatMapsTheFileKeepsEveryPage) {
  Recorder rec;
  rec.mapped_pids = {200};
  DropBehind db(rec.Hooks(), 32 * kMiB, 16 * kMiB);
  Stream(db, 1, 0, 200 * kMiB, /*pid=*/200);
  EXPECT_TRUE(rec.drops.empty());
  EXPECT_EQ(db.dropped_bytes(), 0u);
  Stream(db, 2, 0, 64 * kMiB, /*pid=*/300);  // another open by a reader that does not map it
  EXPECT_EQ(rec.drops.size(), 2u);
}

TEST(DropBehindTest, ReleaseForgetsTheStream) {
  Recorder rec;
  DropBehind db(rec.Hooks(), 32 * kMiB, 16 * kMiB);
  Stream(db, 1, 0, 40 * kMiB);
  db.OnRelease(1);
  Stream(db, 1, 40 * kMiB, 60 * kMiB);  // the same handle number, reused: a new stream at 40
  EXPECT_TRUE(rec.drops.empty());
}

TEST(ProcessMapsFileTest, FindsAMappingOfTheFile) {
  char path[] = "/tmp/drop_behind_test.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_FALSE(ProcessMapsFile(getpid(), st.st_dev, st.st_ino));
  void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_TRUE(ProcessMapsFile(getpid(), st.st_dev, st.st_ino));
  EXPECT_FALSE(ProcessMapsFile(getpid(), st.st_dev, st.st_ino + 1));
  munmap(p, 4096);
  close(fd);
  unlink(path);
  EXPECT_TRUE(ProcessMapsFile(0, st.st_dev, st.st_ino));  // cannot tell: keep
}

}  // namespace
}  // namespace s3m
