// FileSystem::Rename tests: files (copy + delete, the inode number kept, open readers moved
// to the copy, writers stored first), the option and flag rules, large objects by part
// copies, directories (every object moved, the marker last), and a directory rename cut
// off by an error, which loses no object and completes when run again.
#include <linux/fs.h>

#include "fs/fs_test_fixture.h"

namespace s3m {
namespace {

constexpr uint64_t kMiB = 1 << 20;

class RenameTest : public FsTest {
 protected:
  FileSystem& MountRw() {
    FsOptions o;
    o.allow_delete = true;
    o.allow_overwrite = true;
    o.staging_dir = ::testing::TempDir();
    return Mount(o);
  }
  Result<Empty> Rename(InodeId p, const std::string& n, InodeId np, const std::string& nn,
                       unsigned flags = 0) {
    return Wait<Empty>([&](auto cb) { fs().Rename(p, n, np, nn, flags, cb); });
  }
};
S3M_FS_TEST_SUITE(RenameTest);

TEST_P(RenameTest, AFileMovesByCopyAndDelete) {
  mem().Put("a", "alpha");
  MountRw();
  InodeId ino = Lookup(kRootInode, "a")->attr.ino;
  auto reader = Open(ino, O_RDONLY);
  ASSERT_TRUE(reader.ok());
  mem().ResetCounts();
  ASSERT_TRUE(Rename(kRootInode, "a", kRootInode, "b").ok());
  EXPECT_FALSE(mem().Contents("a").has_value());
  EXPECT_EQ(*mem().Contents("b"), "alpha");
  EXPECT_EQ(Count(S3Op::kCopyObject), 1u);
  EXPECT_EQ(Count(S3Op::kDeleteObject), 1u);
  EXPECT_EQ(Count(S3Op::kGetObject), 0u);
  // The kernel keeps using the number for the new name; the reader opened before follows.
  EXPECT_EQ(Lookup(kRootInode, "b")->attr.ino, ino);
  EXPECT_CODE(Lookup(kRootInode, "a"), Code::kNotFound);
  EXPECT_EQ(*ReadString(ino, reader->handle, 0, 100), "alpha");
  ASSERT_TRUE(Release(ino, reader->handle).ok());
  auto again = Open(ino, O_RDONLY);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*ReadString(ino, again->handle, 0, 100), "alpha");
  ASSERT_TRUE(Release(ino, again->handle).ok());
}

TEST_P(RenameTest, RulesOfOptionsFlagsAndKinds) {
  mem().Put("f", "1");
  mem().Put("g", "2");
  mem().Put("d/x", "3");
  Mount();  // no --allow-delete
  EXPECT_CODE(Rename(kRootInode, "f", kRootInode, "h"), Code::kPermission);
  MountRw();
  EXPECT_CODE(Rename(kRootInode, "f", kRootInode, "g", RENAME_NOREPLACE), Code::kExists);
  EXPECT_CODE(Rename(kRootInode, "f", kRootInode, "g", RENAME_EXCHANGE), Code::kInvalidArgument);
  EXPECT_CODE(Rename(kRootInode, "f", kRootInode, "d"), Code::kIsDirectory);
  EXPECT_CODE(Rename(kRootInode, "d", kRootInode, "f"), Code::kNotDirectory);
  InodeId d = Lookup(kRootInode, "d")->attr.ino;
  EXPECT_CODE(Rename(kRootInode, "d", d, "inside"), Code::kInvalidArgument);
  EXPECT_CODE(Rename(kRootInode, "none", kRootInode, "x"), Code::kNotFound);
  EXPECT_EQ(*mem().Contents("g"), "2");
  ASSERT_TRUE(Rename(kRootInode, "f", kRootInode, "g").ok());  // replaces, as rename(2)
  EXPECT_EQ(*mem().Contents("g"), "1");
  EXPECT_FALSE(mem().Contents("f").has_value());

  FsOptions no_overwrite;
  no_overwrite.allow_delete = true;
  Mount(no_overwrite);
  mem().Put("f", "1");
  EXPECT_CODE(Rename(kRootInode, "f", kRootInode, "g"), Code::kPermission);
}

TEST_P(RenameTest, AFileStillBeingWrittenIsStoredFirst) {
  MountRw();
  auto c = Create(kRootInode, "tmp");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(Write(c->entry.attr.ino, c->handle, 0, "written").ok());
  ASSERT_TRUE(Rename(kRootInode, "tmp", kRootInode, "final").ok());
  EXPECT_EQ(*mem().Contents("final"), "written");
  EXPECT_FALSE(mem().Contents("tmp").has_value());
  ASSERT_TRUE(Release(c->entry.attr.ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_FALSE(mem().Contents("tmp").has_value());  // nothing comes back at close
  auto a = GetAttr(c->entry.attr.ino);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 7u);
}

TEST_P(RenameTest, LargeObjectsMoveByPartCopies) {
  std::string big(12 * kMiB, 'z');
  mem().Put("big", big);
  FsOptions o;
  o.allow_delete = true;
  o.copy_object_max_bytes = 5 * kMiB;
  o.writer.write_part_size = 5 * kMiB;
  Mount(o);
  ASSERT_TRUE(Lookup(kRootInode, "big").ok());
  mem().ResetCounts();
  ASSERT_TRUE(Rename(kRootInode, "big", kRootInode, "moved").ok());
  EXPECT_EQ(*mem().Contents("moved"), big);
  EXPECT_FALSE(mem().Contents("big").has_value());
  EXPECT_EQ(Count(S3Op::kCopyObject), 0u);
  EXPECT_GE(Count(S3Op::kUploadPartCopy), 1u);
  EXPECT_EQ(mem().PendingUploads(), 0u);
}

TEST_P(RenameTest, ADirectoryMovesEveryObject) {
  mem().Put("src/", "");
  mem().Put("src/a", "1");
  mem().Put("src/sub/b", "2");
  mem().Put("srcx", "not under src/");
  MountRw();
  InodeId src = Lookup(kRootInode, "src")->attr.ino;
  InodeId sub = Lookup(src, "sub")->attr.ino;
  ASSERT_TRUE(Rename(kRootInode, "src", kRootInode, "dst").ok());
  EXPECT_EQ(*mem().Contents("dst/a"), "1");
  EXPECT_EQ(*mem().Contents("dst/sub/b"), "2");
  EXPECT_EQ(*mem().Contents("dst/"), "");
  EXPECT_EQ(mem().Info("dst/")->metadata.count("s3mount-rename-from"), 0u);
  for (const char* k : {"src/", "src/a", "src/sub/b"}) EXPECT_FALSE(mem().Contents(k)) << k;
  EXPECT_EQ(*mem().Contents("srcx"), "not under src/");
  // Numbers the kernel holds keep working under the new names.
  EXPECT_EQ(Lookup(kRootInode, "dst")->attr.ino, src);
  auto b = Lookup(sub, "b");
  ASSERT_TRUE(b.ok());
  auto h = Open(b->attr.ino, O_RDONLY);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*ReadString(b->attr.ino, h->handle, 0, 10), "2");
  ASSERT_TRUE(Release(b->attr.ino, h->handle).ok());
  EXPECT_CODE(Lookup(kRootInode, "src"), Code::kNotFound);
}

TEST_P(RenameTest, AnInterruptedDirectoryRenameLosesNothingAndCompletesWhenRunAgain) {
  for (int i = 0; i < 6; i++) mem().Put("src/f" + std::to_string(i), "data" + std::to_string(i));
  MountRw();
  // The third delete fails: two objects have moved, one is under both names, three not yet.
  faults().SetFault(S3Op::kDeleteObject, {Status(Code::kServerError, "injected"), 2, -1});
  EXPECT_FALSE(Rename(kRootInode, "src", kRootInode, "dst").ok());
  for (int i = 0; i < 6; i++) {
    std::string n = "f" + std::to_string(i);
    bool old_name = mem().Contents("src/" + n).has_value();
    bool new_name = mem().Contents("dst/" + n).has_value();
    EXPECT_TRUE(old_name || new_name) << n << " is under neither name";
  }
  faults().ClearFaults();
  // The target is not empty, but its marker names this rename: running it again resumes.
  ASSERT_TRUE(Lookup(kRootInode, "dst").ok());
  auto again = Rename(kRootInode, "src", kRootInode, "dst");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  for (int i = 0; i < 6; i++) {
    std::string n = "f" + std::to_string(i);
    EXPECT_EQ(*mem().Contents("dst/" + n), "data" + std::to_string(i));
    EXPECT_FALSE(mem().Contents("src/" + n).has_value());
  }
  EXPECT_FALSE(mem().Contents("dst/").has_value());  // the source had no marker: nor has the copy
  // Another directory that is not empty is never merged into.
  mem().Put("other/x", "1");
  mem().Put("third/y", "2");
  EXPECT_CODE(Rename(kRootInode, "other", kRootInode, "third"), Code::kNotEmpty);
}

TEST_P(RenameTest, DirectoriesOverTheBoundAreLeftToMv) {
  for (int i = 0; i < 5; i++) mem().Put("many/" + std::to_string(i), "x");
  FsOptions o;
  o.allow_delete = true;
  o.rename_max_objects = 4;
  Mount(o);
  EXPECT_CODE(Rename(kRootInode, "many", kRootInode, "moved"), Code::kCrossDevice);
  EXPECT_EQ(Count(S3Op::kCopyObject), 0u);
}

}  // namespace
}  // namespace s3m
