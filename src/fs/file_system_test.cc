// FileSystem core tests: lookup of files, directories, implicit directories, markers,
// shadowing and hidden names; attributes; metadata TTLs with a fake clock; inode numbers
// and lookup counts. Over MemoryObjectClient in inline and async modes.
#include <sys/stat.h>

#include "fs/fs_test_fixture.h"
#include "fs/inode_table.h"

namespace s3m {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class LookupTest : public FsTest {};
S3M_FS_TEST_SUITE(LookupTest);

TEST_P(LookupTest, FilesDirectoriesAndMarkers) {
  mem().Put("a.txt", "hello");
  mem().Put("dir/x", "1");
  mem().Put("marker/", "");
  mem().Put("deep/er/f", "abc");
  FsOptions o;
  o.uid = 1000;
  o.gid = 100;
  Mount(o);

  mem().ResetCounts();
  auto f = Lookup(kRootInode, "a.txt");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(Count(S3Op::kHeadObject), 0u);  // one LIST tells file and directory apart
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);
  EXPECT_FALSE(f->attr.is_dir);
  EXPECT_EQ(f->attr.size, 5u);
  EXPECT_EQ(f->attr.mode, S_IFREG | 0644u);
  EXPECT_EQ(f->attr.nlink, 1u);
  EXPECT_EQ(f->attr.uid, 1000u);
  EXPECT_EQ(f->attr.gid, 100u);
  EXPECT_EQ(f->attr.mtime_sec, mem().Info("a.txt")->last_modified);
  EXPECT_EQ(f->ttl, seconds(1));

  for (const char* name : {"dir", "marker", "deep"}) {
    auto d = Lookup(kRootInode, name);
    ASSERT_TRUE(d.ok()) << name;
    EXPECT_TRUE(d->attr.is_dir) << name;
    EXPECT_EQ(d->attr.mode, S_IFDIR | 0755u);
    EXPECT_EQ(d->attr.nlink, 2u);
  }
  auto deep = LookupPath("deep/er/f");
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(deep->attr.size, 3u);
  EXPECT_CODE(Lookup(kRootInode, "missing"), Code::kNotFound);
  EXPECT_CODE(Lookup(f->attr.ino, "x"), Code::kNotDirectory);
}

TEST_P(LookupTest, PrefixMapsKeysUnderIt) {
  mem().Put("p/q/file", "12");
  mem().Put("other", "x");
  FsOptions o;
  o.prefix = "p/q/";
  Mount(o);
  EXPECT_TRUE(Lookup(kRootInode, "file").ok());
  EXPECT_CODE(Lookup(kRootInode, "other"), Code::kNotFound);
  EXPECT_EQ(Names(kRootInode), (std::vector<std::string>{"./", "../", "file"}));
}

TEST_P(LookupTest, DirectoryShadowsFile) {
  mem().Put("a", "file");
  mem().Put("a/x", "inside");
  Mount();
  auto a = Lookup(kRootInode, "a");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->attr.is_dir);
  EXPECT_TRUE(Lookup(a->attr.ino, "x").ok());
}

TEST_P(LookupTest, HiddenAndTooLongNames) {
  Mount();
  EXPECT_CODE(Lookup(kRootInode, std::string(256, 'n')), Code::kNameTooLong);
  EXPECT_CODE(Lookup(kRootInode, "a/b"), Code::kNotFound);
  mem().Put(std::string(255, 'n'), "ok");
  EXPECT_TRUE(Lookup(kRootInode, std::string(255, 'n')).ok());
}

class AttrTest : public FsTest {
 protected:
  // Mounts with a 1 s metadata TTL over one object "f" of 1 byte, looked up: its inode.
  void MountOneFile(InodeId* ino) {
    mem().Put("f", "1");
    FsOptions o;
    o.metadata_ttl = seconds(1);
    Mount(o);
    auto f = Lookup(kRootInode, "f");
    ASSERT_TRUE(f.ok());
    *ino = f->attr.ino;
  }
};
S3M_FS_TEST_SUITE(AttrTest);

TEST_P(AttrTest, ChangesBecomeVisibleAfterTheTtl) {
  InodeId ino = 0;
  ASSERT_NO_FATAL_FAILURE(MountOneFile(&ino));
  mem().Put("f", "333");
  mem().ResetCounts();
  EXPECT_EQ(Lookup(kRootInode, "f")->attr.size, 1u);  // cached: no request
  EXPECT_EQ(GetAttr(ino)->size, 1u);
  EXPECT_EQ(mem().TotalRequests(), 0u);

  clock_.Advance(milliseconds(1001));
  auto a = GetAttr(ino);  // revalidates by HEAD: the ETag changed, so do size and mtime
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 3u);
  EXPECT_EQ(a->ino, ino);
  EXPECT_EQ(Count(S3Op::kListObjects), 0u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 1u);

  mem().Remove("f");
  clock_.Advance(milliseconds(1001));
  EXPECT_CODE(GetAttr(ino), Code::kNotFound);
  EXPECT_CODE(Lookup(kRootInode, "f"), Code::kNotFound);
}

// A file open for reading is the version it reads: its attributes cost no request however
// old they are (the kernel asks at the end of every read past the TTL); closed, they are
// asked of S3 again.
TEST_P(AttrTest, AFileOpenForReadingAnswersGetattrItself) {
  InodeId ino = 0;
  ASSERT_NO_FATAL_FAILURE(MountOneFile(&ino));
  auto h = Open(ino, O_RDONLY);
  ASSERT_TRUE(h.ok());
  mem().Put("f", "333");
  mem().ResetCounts();
  clock_.Advance(milliseconds(1001));
  auto a = GetAttr(ino);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 1u);
  EXPECT_EQ(mem().TotalRequests(), 0u);
  ASSERT_TRUE(Release(ino, h->handle).ok());
  a = GetAttr(ino);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 3u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 1u);  // a file is revalidated by HEAD
}

TEST_P(AttrTest, IndefiniteTtlKeepsTheCachedState) {
  mem().Put("f", "1");
  FsOptions o;
  o.metadata_ttl = std::chrono::nanoseconds::max();
  Mount(o);
  auto f = Lookup(kRootInode, "f");
  ASSERT_TRUE(f.ok());
  mem().Put("f", "4444");
  clock_.Advance(std::chrono::hours(24 * 365));
  mem().ResetCounts();
  EXPECT_EQ(Lookup(kRootInode, "f")->attr.size, 1u);
  EXPECT_EQ(GetAttr(f->attr.ino)->size, 1u);
  EXPECT_EQ(mem().TotalRequests(), 0u);
}

TEST_P(AttrTest, MinimalTtlAsksEveryTime) {
  mem().Put("f", "1");
  FsOptions o;
  o.metadata_ttl = std::chrono::nanoseconds::zero();
  o.negative_metadata_ttl = std::chrono::nanoseconds::zero();
  Mount(o);
  auto f = Lookup(kRootInode, "f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->ttl, std::chrono::nanoseconds::zero());
  mem().Put("f", "22");
  EXPECT_EQ(Lookup(kRootInode, "f")->attr.size, 2u);
  EXPECT_EQ(GetAttr(f->attr.ino)->size, 2u);
  EXPECT_CODE(Lookup(kRootInode, "g"), Code::kNotFound);
  mem().Put("g", "");
  EXPECT_TRUE(Lookup(kRootInode, "g").ok());  // no negative caching
}

TEST_P(AttrTest, NegativeLookupsCachedForTheirTtl) {
  FsOptions o;
  o.negative_metadata_ttl = milliseconds(5);
  Mount(o);
  EXPECT_CODE(Lookup(kRootInode, "late"), Code::kNotFound);
  mem().Put("late", "x");
  mem().ResetCounts();
  EXPECT_CODE(Lookup(kRootInode, "late"), Code::kNotFound);
  EXPECT_EQ(mem().TotalRequests(), 0u);
  clock_.Advance(milliseconds(6));
  EXPECT_TRUE(Lookup(kRootInode, "late").ok());
}

TEST_P(AttrTest, SetAttrRules) {
  mem().Put("f", "abc");
  Mount();
  auto f = Lookup(kRootInode, "f");
  ASSERT_TRUE(f.ok());
  Attr want = f->attr;
  mem().ResetCounts();
  // Modes and owners are accepted and not kept (tar -x, cp -a): the attributes stand.
  want.mode = (want.mode & ~07777u) | 0700;
  want.uid += 1;
  auto a = SetAttr(f->attr.ino, want, false, true, true);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mode, f->attr.mode);
  EXPECT_EQ(a->uid, f->attr.uid);
  EXPECT_EQ(mem().TotalRequests(), 0u);
  want = f->attr;
  want.size = 0;  // changing an object needs --allow-overwrite
  EXPECT_CODE(SetAttr(f->attr.ino, want, true, false, false), Code::kPermission);
  EXPECT_EQ(*mem().Contents("f"), "abc");

  auto c = Create(kRootInode, "new");
  ASSERT_TRUE(c.ok());
  want = c->entry.attr;
  want.size = 0;
  EXPECT_TRUE(SetAttr(want.ino, want, true, false, false).ok());  // O_TRUNC / touch
  ASSERT_TRUE(Write(want.ino, c->handle, 0, "xy").ok());
  want.size = 7;  // growing it appends zeros, which a stream can send (truncate -s)
  auto grown = SetAttr(want.ino, want, true, false, false, c->handle);
  ASSERT_TRUE(grown.ok()) << grown.status().ToString();
  EXPECT_EQ(grown->size, 7u);
  ASSERT_TRUE(Write(want.ino, c->handle, 7, "z").ok());
  // A new file can be cut too (through its handle or not): it turns staged.
  want.size = 1;
  EXPECT_TRUE(SetAttr(want.ino, want, true, false, false).ok());
  want.size = 3;
  EXPECT_TRUE(SetAttr(want.ino, want, true, false, false, c->handle).ok());
  EXPECT_TRUE(Release(want.ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("new"), std::string("x\0\0", 3));
}

class InodeTest : public FsTest {
 protected:
  struct OpenFile {
    InodeId ino = 0;
    uint64_t handle = 0;
  };
  // Mounts with `o` (metadata TTL 1 ms), stores "old!" at "k" and opens it for reading,
  // its bytes read into the handle's buffer.
  void OpenOldVersion(FsOptions o, OpenFile* out) {
    mem().Put("k", "old!");
    o.metadata_ttl = milliseconds(1);
    Mount(o);
    auto e = Lookup(kRootInode, "k");
    ASSERT_TRUE(e.ok());
    auto h = Open(e->attr.ino, O_RDONLY);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(*ReadString(e->attr.ino, h->handle, 0, 100), "old!");
    *out = OpenFile{e->attr.ino, h->handle};
  }
};
S3M_FS_TEST_SUITE(InodeTest);

TEST_P(InodeTest, StableNumbersAndExactLookupCounts) {
  mem().Put("f", "1");
  FsOptions o;
  o.metadata_ttl = std::chrono::nanoseconds::zero();
  Mount(o);
  uint64_t base = fs().Stats().inodes;  // the root
  auto a = Lookup(kRootInode, "f");
  auto b = Lookup(kRootInode, "f");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->attr.ino, b->attr.ino);
  EXPECT_NE(a->attr.ino, kRootInode);
  EXPECT_EQ(fs().Stats().inodes, base + 1);
  fs().AddLookup(a->attr.ino);  // as for a readdirplus entry: three references now

  fs().Forget(a->attr.ino, 2);
  EXPECT_TRUE(GetAttr(a->attr.ino).ok());
  fs().Forget(a->attr.ino, 1);
  EXPECT_EQ(fs().Stats().inodes, base);
  EXPECT_CODE(GetAttr(a->attr.ino), Code::kStale);
  auto c = Lookup(kRootInode, "f");  // a fresh inode after the kernel forgot the old one
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->attr.ino, a->attr.ino);

  fs().Forget(kRootInode, 100);  // the root is never forgotten
  EXPECT_TRUE(GetAttr(kRootInode).ok());
  EXPECT_TRUE(Lookup(kRootInode, "f").ok());
}

TEST_P(InodeTest, KindChangeMakesANewInode) {
  mem().Put("k", "file");
  FsOptions o;
  o.metadata_ttl = milliseconds(1);
  Mount(o);
  auto file = Lookup(kRootInode, "k");
  ASSERT_TRUE(file.ok());
  EXPECT_FALSE(file->attr.is_dir);
  mem().Remove("k");
  mem().Put("k/x", "now a directory");
  clock_.Advance(milliseconds(2));
  auto dir = Lookup(kRootInode, "k");
  ASSERT_TRUE(dir.ok());
  EXPECT_TRUE(dir->attr.is_dir);
  EXPECT_NE(dir->attr.ino, file->attr.ino);
  EXPECT_CODE(GetAttr(file->attr.ino), Code::kNotFound);  // the old inode is gone from S3
  fs().Forget(file->attr.ino, 1);
  EXPECT_TRUE(GetAttr(dir->attr.ino).ok());
}

TEST(SameEtagTest, OnlyTheValueCounts) {
  EXPECT_TRUE(SameEtag("\"abc\"", "abc"));
  EXPECT_TRUE(SameEtag("\"abc\"", "\"abc\""));
  EXPECT_FALSE(SameEtag("\"abc\"", "\"abd\""));
  EXPECT_FALSE(SameEtag("abc", ""));
}

// The kernel keeps one page cache per inode: a new version of an object on the inode that
// files read the old version through would hand those files pages of the new one.
TEST_P(InodeTest, AnObjectReplacedWhileOpenGetsANewInode) {
  OpenFile old;
  ASSERT_NO_FATAL_FAILURE(OpenOldVersion({}, &old));
  mem().Put("k", "the new one");
  clock_.Advance(milliseconds(2));
  auto now = Lookup(kRootInode, "k");  // the kernel revalidating the name
  ASSERT_TRUE(now.ok());
  EXPECT_NE(now->attr.ino, old.ino);
  EXPECT_EQ(now->attr.size, 11u);
  // The open file keeps its inode, its attributes and its version.
  clock_.Advance(milliseconds(2));
  auto old_attr = GetAttr(old.ino);
  ASSERT_TRUE(old_attr.ok());
  EXPECT_EQ(old_attr->size, 4u);
  EXPECT_EQ(*ReadString(old.ino, old.handle, 0, 100), "old!");
  auto h2 = Open(now->attr.ino, O_RDONLY);
  ASSERT_TRUE(h2.ok());
  EXPECT_EQ(*ReadString(now->attr.ino, h2->handle, 0, 100), "the new one");
  ASSERT_TRUE(Release(old.ino, old.handle).ok());
  ASSERT_TRUE(Release(now->attr.ino, h2->handle).ok());
  // With nothing open, a new version stays on the same inode.
  mem().Put("k", "third");
  clock_.Advance(milliseconds(2));
  auto third = Lookup(kRootInode, "k");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->attr.ino, now->attr.ino);
  EXPECT_EQ(third->attr.size, 5u);
}

// When the change shows first at open (the HEAD of an inode whose attributes expired), the
// open fails with ESTALE and the name lets go of the inode: the kernel then looks the path
// up again (once) and opens the new inode.
TEST_P(InodeTest, AChangeSeenAtOpenSendsTheOpenToANewInode) {
  OpenFile old;
  ASSERT_NO_FATAL_FAILURE(OpenOldVersion({}, &old));
  mem().Put("k", "the new one");
  clock_.Advance(milliseconds(2));
  EXPECT_CODE(Open(old.ino, O_RDONLY), Code::kStale);
  auto retry = Lookup(kRootInode, "k");
  ASSERT_TRUE(retry.ok());
  EXPECT_NE(retry->attr.ino, old.ino);
  EXPECT_EQ(retry->attr.size, 11u);
  EXPECT_EQ(*ReadString(old.ino, old.handle, 0, 100), "old!");
  ASSERT_TRUE(Release(old.ino, old.handle).ok());
}

// An overwrite through the mount while the file is open for reading: the writer gets an
// inode of its own (ESTALE, then the kernel's lookup), the reader keeps the old version.
TEST_P(InodeTest, OverwritingAFileOpenForReadingUsesANewInode) {
  FsOptions o;
  o.allow_overwrite = true;
  OpenFile old;
  ASSERT_NO_FATAL_FAILURE(OpenOldVersion(o, &old));
  EXPECT_CODE(Open(old.ino, O_WRONLY | O_TRUNC), Code::kStale);
  auto fresh = Lookup(kRootInode, "k");
  ASSERT_TRUE(fresh.ok());
  ASSERT_NE(fresh->attr.ino, old.ino);
  auto w = Open(fresh->attr.ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(Write(fresh->attr.ino, w->handle, 0, "new bytes").ok());
  ASSERT_TRUE(Release(fresh->attr.ino, w->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(mem().Contents("k"), "new bytes");
  EXPECT_EQ(*ReadString(old.ino, old.handle, 0, 100), "old!");
  ASSERT_TRUE(Release(old.ino, old.handle).ok());
}

}  // namespace
}  // namespace s3m

namespace s3m {
namespace {

class LookupListTest : public FsTest {};
S3M_FS_TEST_SUITE(LookupListTest);

// Keys that sort between "data" and "data/" fill the lookup's page: a second, small LIST
// settles whether the directory exists; the directory still wins over the file.
TEST_P(LookupListTest, ManyKeysBetweenTheFileAndTheDirectory) {
  for (int i = 0; i < 100; i++) mem().Put("data-" + std::to_string(1000 + i), "x");
  mem().Put("data", "file");
  mem().Put("data/inner", "y");
  mem().Put("solo", "only a file");
  for (int i = 0; i < 100; i++) mem().Put("solo." + std::to_string(i), "x");
  Mount();
  mem().ResetCounts();
  auto d = Lookup(kRootInode, "data");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->attr.is_dir);
  EXPECT_EQ(Count(S3Op::kListObjects), 2u);
  auto f = Lookup(kRootInode, "solo");
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->attr.is_dir);
  EXPECT_EQ(f->attr.size, 11u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 0u);
}

}  // namespace
}  // namespace s3m
