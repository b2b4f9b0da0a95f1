// Tests of ExtentSet and PlanUpload: S3's part rules hold for any staged file (random
// cases), and the cases that matter cost what they should (an append copies the rest).
#include "fs/upload_plan.h"

#include <gtest/gtest.h>

#include <random>

#include "fs/object_writer.h"

namespace s3m {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kPart = 8 * kMiB;

std::vector<std::pair<uint64_t, uint64_t>> Pieces(const ExtentSet& s, uint64_t a, uint64_t b) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  s.ForEachIn(a, b, [&out](uint64_t x, uint64_t y) { out.emplace_back(x, y); });
  return out;
}

TEST(ExtentSetTest, MergesClipsAndFinds) {
  ExtentSet s;
  s.Add(10, 20);
  s.Add(30, 40);
  s.Add(20, 25);  // touches: merged
  EXPECT_EQ(Pieces(s, 0, 100), (std::vector<std::pair<uint64_t, uint64_t>>{{10, 25}, {30, 40}}));
  s.Add(5, 35);  // covers the gap
  EXPECT_EQ(Pieces(s, 0, 100), (std::vector<std::pair<uint64_t, uint64_t>>{{5, 40}}));
  EXPECT_TRUE(s.Overlaps(39, 50));
  EXPECT_FALSE(s.Overlaps(40, 50));
  EXPECT_FALSE(s.Overlaps(0, 5));
  s.Add(50, 60);
  s.ClipTo(55);
  EXPECT_EQ(Pieces(s, 0, 100), (std::vector<std::pair<uint64_t, uint64_t>>{{5, 40}, {50, 55}}));
  EXPECT_EQ(s.bytes(), 40u);
  s.ClipTo(50);
  EXPECT_EQ(Pieces(s, 0, 100), (std::vector<std::pair<uint64_t, uint64_t>>{{5, 40}}));
  EXPECT_EQ(Pieces(s, 7, 9), (std::vector<std::pair<uint64_t, uint64_t>>{{7, 9}}));
}

// S3's rules and the plan's meaning: contiguous cover of [0, size), every part but the
// last at least 5 MiB, at most 5 GiB and 10,000 parts, and copies only of clean bytes.
void CheckRules(uint64_t size, uint64_t base_end, const ExtentSet& written,
                const std::vector<PlannedPart>& parts) {
  ASSERT_LE(parts.size(), static_cast<size_t>(kMaxParts));
  uint64_t pos = 0;
  for (size_t i = 0; i < parts.size(); i++) {
    const PlannedPart& p = parts[i];
    ASSERT_EQ(p.start, pos) << i;
    ASSERT_GT(p.end, p.start) << i;
    ASSERT_LE(p.end - p.start, kMaxPartSize) << i;
    if (i + 1 < parts.size()) {
      ASSERT_GE(p.end - p.start, kMinPartSize) << i;
    }
    if (p.copy) {
      ASSERT_LE(p.end, base_end) << i;
      ASSERT_FALSE(written.Overlaps(p.start, p.end)) << i;
    }
    pos = p.end;
  }
  ASSERT_EQ(pos, size);
}

uint64_t Uploaded(const std::vector<PlannedPart>& parts) {
  uint64_t n = 0;
  for (const auto& p : parts) n += p.copy ? 0 : p.end - p.start;
  return n;
}

TEST(PlanUploadTest, AppendToALargeObjectUploadsOnlyTheNewBytes) {
  ExtentSet w;
  w.Add(1024 * kMiB, 1025 * kMiB);
  auto parts = PlanUpload(1025 * kMiB, 1024 * kMiB, w, kPart);
  CheckRules(1025 * kMiB, 1024 * kMiB, w, parts);
  ASSERT_EQ(parts.size(), 1024 * kMiB / kCopyPartBytes + 1);  // copies run in parallel
  for (size_t i = 0; i + 1 < parts.size(); i++) EXPECT_TRUE(parts[i].copy) << i;
  EXPECT_FALSE(parts.back().copy);
  EXPECT_EQ(Uploaded(parts), kMiB);
}

TEST(PlanUploadTest, ASmallWriteInTheMiddleBorrowsFromTheCopyAfterIt) {
  ExtentSet w;
  w.Add(100 * kMiB, 100 * kMiB + 10);
  auto parts = PlanUpload(300 * kMiB, 300 * kMiB, w, kPart);
  CheckRules(300 * kMiB, 300 * kMiB, w, parts);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1].start, 100 * kMiB);
  EXPECT_EQ(parts[1].end, 105 * kMiB);  // the write plus borrowed clean bytes: 5 MiB
  EXPECT_EQ(Uploaded(parts), 5 * kMiB);
}

TEST(PlanUploadTest, SmallOrNewFilesAreUploadedWhole) {
  ExtentSet none;
  EXPECT_TRUE(PlanUpload(0, 0, none, kPart).empty());
  auto small = PlanUpload(3 * kMiB, 3 * kMiB, none, kPart);  // too short to copy
  ASSERT_EQ(small.size(), 1u);
  EXPECT_FALSE(small[0].copy);
  auto fresh = PlanUpload(40 * kMiB, 0, none, kPart);
  CheckRules(40 * kMiB, 0, none, fresh);
  EXPECT_EQ(Uploaded(fresh), 40 * kMiB);
  EXPECT_EQ(fresh.size(), 5u);
}

TEST(PlanUploadTest, TruncationCopiesWhatStandsAndUploadsTheZeros) {
  ExtentSet none;
  // Cut to 20 MiB, then grown to 30 MiB: bytes 20..30 MiB are zeros, not the old bytes.
  auto parts = PlanUpload(30 * kMiB, 20 * kMiB, none, kPart);
  CheckRules(30 * kMiB, 20 * kMiB, none, parts);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_TRUE(parts[0].copy);
  EXPECT_EQ(parts[0].end, 20 * kMiB);
}

TEST(PlanUploadTest, ScatteredWritesStillFitTheRules) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 300; round++) {
    uint64_t size = rng() % (2048 * kMiB) + 1;
    uint64_t base_end = rng() % 2 == 0 ? size : rng() % (size + 1);
    ExtentSet w;
    int writes = static_cast<int>(rng() % 40);
    for (int i = 0; i < writes; i++) {
      uint64_t s = rng() % size;
      uint64_t len = rng() % 3 == 0 ? rng() % (64 * kMiB) : rng() % 4096 + 1;
      w.Add(s, std::min(size, s + len));
    }
    auto parts = PlanUpload(size, base_end, w, kPart);
    SCOPED_TRACE(round);
    CheckRules(size, base_end, w, parts);
  }
}

TEST(PlanUploadTest, TooManyRunsCopyOnlyTheLongerOnes) {
  // One byte written every 6 MiB of a 100 GiB object: 17,000 runs of clean bytes.
  uint64_t size = 100ull << 30;
  ExtentSet w;
  for (uint64_t pos = 6 * kMiB; pos < size; pos += 6 * kMiB) w.Add(pos, pos + 1);
  auto parts = PlanUpload(size, size, w, kPart);
  CheckRules(size, size, w, parts);
  EXPECT_GT(parts.size(), 1000u);
}

}  // namespace
}  // namespace s3m
