// FileSystem directory tests: streaming paged readdir (sorted, de-duplicated, resumable),
// request economy of `ls -l`, hidden keys, local entries, mkdir and rmdir rules.
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "fmt/format.h"
#include "fs/fs_test_fixture.h"

namespace s3m {
namespace {

class DirTest : public FsTest {};
S3M_FS_TEST_SUITE(DirTest);

constexpr int kBigDirEntries = 1100;  // two LIST pages of 1,000 keys

TEST_P(DirTest, ListsABigDirectoryInPagesAndServesLookupsFromTheListing) {
  for (int i = 0; i < kBigDirEntries; ++i) {
    mem().Put(fmt::format("big/f{:04}", i), std::string(i % 7, 'x'));
  }
  Mount();
  auto big = Lookup(kRootInode, "big");
  ASSERT_TRUE(big.ok());
  InodeId ino = big->attr.ino;
  mem().ResetCounts();

  // Streaming: the first reads cost one page, not the whole directory.
  auto h = fs().OpenDir(ino);
  ASSERT_TRUE(h.ok());
  auto first = ReadDir(ino, *h, 0, 50);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 50u);
  EXPECT_EQ((*first)[0].name, ".");
  EXPECT_EQ((*first)[1].name, "..");
  EXPECT_EQ((*first)[0].attr.ino, ino);
  EXPECT_EQ((*first)[1].attr.ino, kRootInode);
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);
  // Resuming at an offset returns the entries that followed it.
  auto resumed = ReadDir(ino, *h, (*first)[9].next_offset, 3);
  ASSERT_TRUE(resumed.ok());
  ASSERT_EQ(resumed->size(), 3u);
  EXPECT_EQ((*resumed)[0].name, (*first)[10].name);
  fs().ReleaseDir(ino, *h);

  mem().ResetCounts();
  std::vector<DirEntry> all = ListAll(ino, 128);
  EXPECT_EQ(Count(S3Op::kListObjects), 2u);  // ceil(1100 / 1000)
  EXPECT_EQ(Count(S3Op::kHeadObject), 0u);
  ASSERT_EQ(all.size(), kBigDirEntries + 2u);
  std::vector<std::string> names;
  for (size_t i = 2; i < all.size(); ++i) names.push_back(all[i].name);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].next_offset, i + 1);

  // `ls -l`: lookups and stats of every listed entry cost no request.
  mem().ResetCounts();
  for (size_t i = 2; i < all.size(); ++i) {
    auto e = Lookup(ino, all[i].name);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->attr.ino, all[i].attr.ino);
    EXPECT_EQ(e->attr.size, all[i].attr.size);
    EXPECT_TRUE(GetAttr(e->attr.ino).ok());
  }
  EXPECT_EQ(mem().TotalRequests(), 0u);
}

TEST_P(DirTest, MergesFilesAndPrefixesWithShadowingAndHidesBadNames) {
  for (const char* k :
       {"m/a", "m/a-b", "m/a.txt", "m/a/x", "m/b", "m/c/", "m//z", "m/./w", "m/../y", "m/"}) {
    mem().Put(k, "1");
  }
  mem().Put("m/" + std::string(256, 'n'), "long");
  Mount();
  auto m = Lookup(kRootInode, "m");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(Names(m->attr.ino),
            (std::vector<std::string>{"./", "../", "a/", "a-b", "a.txt", "b", "c/"}));
}

TEST_P(DirTest, ListingAttributesMakeOpenAndReadCostOneGet) {
  mem().Put("d/small", "contents");
  Mount();
  auto d = Lookup(kRootInode, "d");
  ASSERT_TRUE(d.ok());
  std::vector<DirEntry> all = ListAll(d->attr.ino);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].attr.mode, S_IFREG | 0644u);
  mem().ResetCounts();
  auto e = Lookup(d->attr.ino, "small");
  ASSERT_TRUE(e.ok());
  auto h = Open(e->attr.ino, O_RDONLY);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*ReadString(e->attr.ino, h->handle, 0, 100), "contents");
  EXPECT_TRUE(Release(e->attr.ino, h->handle).ok());
  EXPECT_EQ(Count(S3Op::kGetObject), 1u);
  EXPECT_EQ(mem().TotalRequests(), 1u);
}

TEST_P(DirTest, LocalDirectoriesAndFilesBeingWrittenAreListed) {
  mem().Put("b", "1");
  mem().Put("d", "1");
  Mount();
  ASSERT_TRUE(Mkdir(kRootInode, "c").ok());
  auto a = Create(kRootInode, "a");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(Write(a->entry.attr.ino, a->handle, 0, "12345").ok());
  std::vector<DirEntry> all = ListAll(kRootInode);
  std::vector<std::string> names;
  for (auto& e : all) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "a", "b", "c", "d"}));
  EXPECT_EQ(all[2].attr.size, 5u);
  EXPECT_TRUE(all[4].attr.is_dir);
  EXPECT_TRUE(Release(a->entry.attr.ino, a->handle).ok());
}

TEST_P(DirTest, MkdirStoresAMarkerThatLasts) {
  mem().Put("remote/x", "1");
  mem().Put("file", "1");
  Mount();
  mem().ResetCounts();
  auto d = Mkdir(kRootInode, "d");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->attr.is_dir);
  EXPECT_EQ(mem().TotalRequests(), 2u);  // the existence check (one LIST) and the marker's PUT
  EXPECT_EQ(*mem().Contents("d/"), "");
  mem().ResetCounts();
  EXPECT_EQ(Lookup(kRootInode, "d")->attr.ino, d->attr.ino);
  EXPECT_EQ(mem().TotalRequests(), 0u);

  EXPECT_CODE(Mkdir(kRootInode, "d"), Code::kExists);
  EXPECT_CODE(Mkdir(kRootInode, "remote"), Code::kExists);
  EXPECT_CODE(Mkdir(kRootInode, "file"), Code::kExists);
  EXPECT_CODE(Rmdir(kRootInode, "remote"), Code::kNotEmpty);
  EXPECT_CODE(Rmdir(kRootInode, "file"), Code::kNotDirectory);
  EXPECT_CODE(Rmdir(kRootInode, "nothing"), Code::kNotFound);

  auto sub = Mkdir(d->attr.ino, "sub");
  ASSERT_TRUE(sub.ok());
  EXPECT_CODE(Rmdir(kRootInode, "d"), Code::kNotEmpty);  // a local child
  EXPECT_TRUE(Rmdir(d->attr.ino, "sub").ok());
  EXPECT_TRUE(Rmdir(kRootInode, "d").ok());
  EXPECT_CODE(Lookup(kRootInode, "d"), Code::kNotFound);

  EXPECT_FALSE(mem().Contents("d/").has_value());  // rmdir removed the marker

  auto e = Mkdir(kRootInode, "e");
  ASSERT_TRUE(e.ok());
  WriteFile(e->attr.ino, "f", "data");
  EXPECT_EQ(*mem().Contents("e/f"), "data");
  EXPECT_CODE(Rmdir(kRootInode, "e"), Code::kNotEmpty);

  // The empty directory outlives this mount: a new mount finds it, and lists it empty.
  ASSERT_TRUE(Mkdir(kRootInode, "kept").ok());
  Mount();
  auto kept = Lookup(kRootInode, "kept");
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->attr.is_dir);
  EXPECT_EQ(Names(kept->attr.ino), (std::vector<std::string>{"./", "../"}));
}

}  // namespace
}  // namespace s3m
