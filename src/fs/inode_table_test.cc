// InodeTable tests: the bound on unreferenced inodes, and known ranges (which names a
// listing vouches for) that go when a name they cover leaves the table.
#include "fs/inode_table.h"

#include <gtest/gtest.h>

#include "fmt/format.h"

namespace s3m {
namespace {

TEST(InodeTableTest, KeepsUnreferencedInodesWithinTheBoundAndDropsTheListingCacheWithThem) {
  FakeClock clock;
  InodeTable t("", &clock);
  constexpr size_t kMax = 1000;
  constexpr int kNames = 6000;  // past the first sweep (4,096 inodes)
  t.set_max_unreferenced(kMax);
  std::shared_ptr<Inode> root = t.Get(kRootInode);
  MonoTime fresh = clock.Monotonic() + std::chrono::hours(1);
  ObjectInfo info;
  info.etag = "e";
  std::shared_ptr<Inode> held = t.Upsert(*root, "held", EntryKind::kFile, &info, fresh, true);
  t.SetKnownRange(kRootInode, "", std::nullopt, /*whole=*/true, fresh);
  EXPECT_TRUE(t.ListingFresh(kRootInode, clock.Monotonic()));
  for (int i = 0; i < kNames; ++i) {
    t.Upsert(*root, fmt::format("n{:05}", i), EntryKind::kFile, &info, fresh, false);
  }
  // Fresh as they are, unreferenced inodes were dropped down to the bound (then grew by
  // at most half the table before the next sweep); the kernel's references stay.
  EXPECT_LT(t.size(), kMax + kNames / 2);
  EXPECT_EQ(t.Find(kRootInode, "held"), held);
  EXPECT_FALSE(t.ListingFresh(kRootInode, clock.Monotonic()));
  EXPECT_TRUE(t.Listed(kRootInode));  // still refreshed in bulk
}

TEST(InodeTableTest, KnownRangesSayWhichMissingNamesAreAbsent) {
  FakeClock clock;
  InodeTable t("", &clock);
  std::shared_ptr<Inode> root = t.Get(kRootInode);
  MonoTime now = clock.Monotonic();
  MonoTime until = now + std::chrono::seconds(1);
  ObjectInfo info;
  t.Upsert(*root, "b", EntryKind::kFile, &info, until, false);
  t.SetKnownRange(kRootInode, "a", std::string("m"), /*whole=*/false, until);
  EXPECT_TRUE(t.KnownAbsent(kRootInode, "c", now));
  EXPECT_FALSE(t.KnownAbsent(kRootInode, "b", now));    // present
  EXPECT_FALSE(t.KnownAbsent(kRootInode, "a", now));    // start-after is exclusive
  EXPECT_TRUE(t.KnownAbsent(kRootInode, "m", now));     // the range's end is inclusive
  EXPECT_FALSE(t.KnownAbsent(kRootInode, "n", now));    // past the range
  EXPECT_FALSE(t.ListingFresh(kRootInode, now));        // a part is not a listing
  EXPECT_FALSE(t.KnownAbsent(kRootInode, "c", until));  // expired
}

TEST(InodeTableTest, AForgottenFreshInodeKeepsItsNameUntilItExpires) {
  FakeClock clock;
  InodeTable t("", &clock);
  std::shared_ptr<Inode> root = t.Get(kRootInode);
  ObjectInfo info;
  auto f = t.Upsert(*root, "f", EntryKind::kFile, &info,
                    clock.Monotonic() + std::chrono::seconds(1), true);
  InodeId ino = f->ino;
  f.reset();
  t.Forget(ino, 1);
  EXPECT_NE(t.Find(kRootInode, "f"), nullptr);
  clock.Advance(std::chrono::seconds(2));
  t.AddLookup(ino);
  t.Forget(ino, 1);
  EXPECT_EQ(t.Find(kRootInode, "f"), nullptr);
}

}  // namespace
}  // namespace s3m
