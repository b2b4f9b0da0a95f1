// FileSystem tests of --posix: modes, owners and times kept in object metadata in
// s3fs-fuse's format (and read back from objects s3fs wrote), symlinks, the HEADs a
// listing costs, and metadata kept across rewrites.
#include <sys/stat.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "fs/fs_test_fixture.h"
#include "fs/posix_meta.h"

namespace s3m {
namespace {

using std::chrono::seconds;

constexpr int64_t kFakeNow = 1700000000;  // the fixture clock's wall time
constexpr int64_t k2020 = 1577836801;     // 2020-01-01 00:00:01 UTC

class PosixTest : public FsTest {
 protected:
  FileSystem& MountPosix(bool posix = true) {
    FsOptions o;
    o.posix = posix;
    o.allow_overwrite = true;
    o.staging_dir = ::testing::TempDir();
    return Mount(o);
  }
  Metadata Meta(const std::string& key) {
    auto info = Wait<ObjectInfo>([&](auto cb) { mem().HeadObject({key}, cb); });
    EXPECT_TRUE(info.ok()) << key;
    return info.ok() ? info->metadata : Metadata{};
  }
  void PutWithMeta(const std::string& key, const std::string& body, Metadata meta,
                   std::string content_type = "") {
    auto r = Wait<PutObjectResult>([&](auto cb) {
      mem().PutObject({.key = key,
                       .data = body.data(),
                       .size = body.size(),
                       .metadata = std::move(meta),
                       .content_type = std::move(content_type)},
                      cb);
    });
    ASSERT_TRUE(r.ok());
  }
  Result<Entry> SymlinkTo(const std::string& name, const std::string& target) {
    return Wait<Entry>([&](auto cb) { fs().Symlink(kRootInode, name, target, cb); });
  }
  Result<std::string> Readlink(InodeId ino) {
    return Wait<std::string>([&](auto cb) { fs().Readlink(ino, cb); });
  }
};
S3M_FS_TEST_SUITE(PosixTest);

TEST(PosixMetaTest, ParsesS3fsAndRcloneValues) {
  PosixAttrs a =
      ParsePosix({{"mode", "33256"}, {"uid", "1000"}, {"gid", "1001"}, {"mtime", "1577836801.25"}});
  EXPECT_EQ(*a.mode, 0100750u);
  EXPECT_EQ(*a.uid, 1000u);
  EXPECT_EQ(*a.gid, 1001u);
  EXPECT_EQ(*a.mtime_sec, k2020);
  EXPECT_EQ(a.mtime_nsec, 250000000);
  EXPECT_EQ(FileModeOf(a, 0644), 0100750u);
  EXPECT_EQ(DirModeOf(ParsePosix({{"mode", "493"}}), 0700), S_IFDIR | 0755u);  // s3fs dirs
  EXPECT_EQ(FileModeOf(ParsePosix({{"mode", "41471"}}), 0644), kSymlinkMode);
  PosixAttrs bad = ParsePosix({{"mode", "x1"}, {"uid", "-1"}, {"mtime", "12."}});
  EXPECT_FALSE(bad.mode || bad.uid || bad.mtime_sec);
  EXPECT_EQ(FileModeOf(bad, 0640), S_IFREG | 0640u);
}

TEST_P(PosixTest, ChmodChownUtimesAreStoredAndReadBackAfterARemount) {
  MountPosix();
  InodeId f = WriteFile(kRootInode, "f", "data");
  EXPECT_EQ(Meta("f"), (Metadata{{"mode", "33188"}, {"mtime", std::to_string(kFakeNow)}}));
  ASSERT_TRUE(Mkdir(kRootInode, "d").ok());
  EXPECT_EQ(Meta("d/").at("mode"), "493");  // as s3fs writes a marker: no type bits
  mem().Put("implied/x", "");               // a directory without a marker

  Attr want;
  want.mode = 0750;
  want.uid = 1000;
  want.gid = 1001;
  want.mtime_sec = k2020;
  mem().ResetCounts();
  ASSERT_TRUE(SetAttrs(f, want, FileSystem::kSetMode).ok());
  ASSERT_TRUE(SetAttrs(f, want, FileSystem::kSetUid | FileSystem::kSetGid).ok());
  auto a = SetAttrs(f, want, FileSystem::kSetMtime);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mode, 0100750u);
  EXPECT_EQ(a->uid, 1000u);
  EXPECT_EQ(a->mtime_sec, k2020);
  // Each change is one CopyObject onto itself: the metadata was known from the upload.
  EXPECT_EQ(Count(S3Op::kCopyObject), 3u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 0u);
  EXPECT_EQ(*mem().Contents("f"), "data");
  EXPECT_EQ(
      Meta("f"),
      (Metadata{
          {"mode", "33256"}, {"uid", "1000"}, {"gid", "1001"}, {"mtime", std::to_string(k2020)}}));
  want.mode = 0700;
  ASSERT_TRUE(SetAttrs(Lookup(kRootInode, "d")->attr.ino, want, FileSystem::kSetMode).ok());
  ASSERT_TRUE(SetAttrs(Lookup(kRootInode, "implied")->attr.ino, want, FileSystem::kSetMode).ok());
  EXPECT_EQ(Meta("d/").at("mode"), "448");
  EXPECT_EQ(Meta("implied/").at("mode"), "448");  // its marker was created

  MountPosix();
  auto e = Lookup(kRootInode, "f");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->attr.mode, 0100750u);
  EXPECT_EQ(e->attr.uid, 1000u);
  EXPECT_EQ(e->attr.gid, 1001u);
  EXPECT_EQ(e->attr.mtime_sec, k2020);
  EXPECT_EQ(Lookup(kRootInode, "d")->attr.mode, S_IFDIR | 0700u);
  EXPECT_EQ(Lookup(kRootInode, "implied")->attr.mode, S_IFDIR | 0700u);
  // Without --posix nothing is read (or kept): the mount's defaults.
  MountPosix(false);
  EXPECT_EQ(Lookup(kRootInode, "f")->attr.mode, S_IFREG | 0644u);
  mem().ResetCounts();
  ASSERT_TRUE(SetAttrs(Lookup(kRootInode, "f")->attr.ino, want, FileSystem::kSetMode).ok());
  EXPECT_EQ(Count(S3Op::kCopyObject), 0u);
  EXPECT_EQ(Meta("f").at("mode"), "33256");
}

TEST_P(PosixTest, ObjectsWrittenByS3fsReadBack) {
  // The metadata exactly as s3fs 1.90 writes it (docs: PEERS.md).
  PutWithMeta("s3fs-file", "hello",
              {{"mode", "33256"},
               {"uid", "1000"},
               {"gid", "1001"},
               {"mtime", "1577836801"},
               {"ctime", "1577836801"},
               {"atime", "1577836801"}});
  PutWithMeta("lnk", "s3fs-file", {{"mode", "41471"}});
  PutWithMeta("sd/", "", {{"mode", "493"}}, "application/x-directory");
  PutWithMeta("rclone", "x", {{"mtime", "1577836801.5"}});
  MountPosix();
  auto f = Lookup(kRootInode, "s3fs-file");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->attr.mode, 0100750u);
  EXPECT_EQ(f->attr.uid, 1000u);
  EXPECT_EQ(f->attr.gid, 1001u);
  EXPECT_EQ(f->attr.mtime_sec, k2020);
  EXPECT_EQ(f->attr.size, 5u);
  auto d = Lookup(kRootInode, "sd");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->attr.is_dir);
  EXPECT_EQ(d->attr.mode, S_IFDIR | 0755u);
  auto r = Lookup(kRootInode, "rclone");
  EXPECT_EQ(r->attr.mtime_sec, k2020);
  EXPECT_EQ(r->attr.mtime_nsec, 500000000);
  EXPECT_EQ(r->attr.mode, S_IFREG | 0644u);  // no mode: the mount's
  auto l = Lookup(kRootInode, "lnk");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->attr.mode, kSymlinkMode);
  EXPECT_EQ(l->attr.size, 9u);
  mem().ResetCounts();
  EXPECT_EQ(*Readlink(l->attr.ino), "s3fs-file");
  EXPECT_EQ(*Readlink(l->attr.ino), "s3fs-file");
  EXPECT_EQ(Count(S3Op::kGetObject), 1u);  // read once, then kept on the inode
  EXPECT_CODE(Readlink(f->attr.ino), Code::kInvalidArgument);
}

TEST_P(PosixTest, SymlinkStoresTheTargetAsTheBody) {
  MountPosix(false);
  EXPECT_CODE(SymlinkTo("l", "t"), Code::kPermission);  // EPERM without --posix
  EXPECT_FALSE(mem().Contents("l").has_value());
  MountPosix();
  auto l = SymlinkTo("l", "dir/target");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->attr.mode, kSymlinkMode);
  EXPECT_EQ(l->attr.size, 10u);
  EXPECT_EQ(*mem().Contents("l"), "dir/target");
  EXPECT_EQ(Meta("l").at("mode"), "41471");
  EXPECT_CODE(SymlinkTo("l", "other"), Code::kExists);
  mem().ResetCounts();
  EXPECT_EQ(*Readlink(l->attr.ino), "dir/target");
  EXPECT_EQ(mem().TotalRequests(), 0u);  // known since its creation

  MountPosix();
  auto again = Lookup(kRootInode, "l");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->attr.mode, kSymlinkMode);
  EXPECT_EQ(*Readlink(again->attr.ino), "dir/target");
}

TEST_P(PosixTest, TheCreatorOwnsWhatItCreates) {
  MountPosix();
  const Owner kUser{1000, 1001};
  auto c =
      Wait<CreateResult>([&](auto cb) { fs().Create(kRootInode, "f", 0640, O_WRONLY, cb, kUser); });
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->entry.attr.uid, 1000u);
  EXPECT_EQ(c->entry.attr.gid, 1001u);
  ASSERT_TRUE(Release(c->entry.attr.ino, c->handle).ok());
  fs().DrainUploads();
  auto d = Wait<Entry>([&](auto cb) { fs().Mkdir(kRootInode, "d", 0750, cb, kUser); });
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->attr.uid, 1000u);
  auto l = Wait<Entry>([&](auto cb) { fs().Symlink(kRootInode, "l", "f", cb, kUser); });
  ASSERT_TRUE(l.ok());
  for (const char* key : {"f", "d/", "l"}) {
    Metadata m = Meta(key);
    EXPECT_EQ(m["uid"], "1000") << key;
    EXPECT_EQ(m["gid"], "1001") << key;
  }
  EXPECT_EQ(Meta("f").at("mode"), std::to_string(S_IFREG | 0640));
  MountPosix();
  EXPECT_EQ(Lookup(kRootInode, "f")->attr.uid, 1000u);
  // Without --posix the owner is the mount's, and nothing is stored.
  MountPosix(false);
  auto n =
      Wait<CreateResult>([&](auto cb) { fs().Create(kRootInode, "n", 0640, O_WRONLY, cb, kUser); });
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->entry.attr.uid, 0u);
  ASSERT_TRUE(Release(n->entry.attr.ino, n->handle).ok());
  fs().DrainUploads();
  EXPECT_TRUE(Meta("n").empty());
}

TEST_P(PosixTest, ALookupSendsItsHeadWithTheList) {
  PutWithMeta("f", "x", {{"mode", "33261"}});
  PutWithMeta("d/", "", {{"mode", "448"}});
  MountPosix();
  mem().ResetCounts();
  EXPECT_EQ(Lookup(kRootInode, "f")->attr.mode, 0100755u);
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 1u);  // in parallel with the LIST
  EXPECT_EQ(Lookup(kRootInode, "d")->attr.mode, S_IFDIR | 0700u);
  EXPECT_EQ(Count(S3Op::kListObjects), 2u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 3u);  // "d" (none), then the marker "d/"
  EXPECT_CODE(Lookup(kRootInode, "missing"), Code::kNotFound);
  EXPECT_EQ(Count(S3Op::kHeadObject), 4u);
  // Cached for the TTL; then GetAttr asks again, the same way.
  InodeId f = Lookup(kRootInode, "f")->attr.ino;
  EXPECT_EQ(Count(S3Op::kHeadObject), 4u);
  clock_.Advance(seconds(2));
  PutWithMeta("f", "x", {{"mode", "33216"}});  // changed elsewhere
  EXPECT_EQ(GetAttr(f)->mode, 0100700u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 5u);
}

TEST_P(PosixTest, ReaddirplusHeadsEachEntryOnceAndOnlyUnderPosix) {
  constexpr int kFiles = 70;  // more than 32: the HEADs go in several waves
  for (int i = 0; i < kFiles; i++) mem().Put("f" + std::to_string(i), "x");
  PutWithMeta("exec", "#!/bin/sh\n", {{"mode", "33261"}});
  PutWithMeta("d/", "", {{"mode", "448"}});
  mem().Put("d/inner", "");
  mem().Put("implied/x", "");
  MountPosix(false);
  mem().ResetCounts();
  EXPECT_EQ(ListAll(kRootInode).size(), kFiles + 5u);  // ".", "..", exec, d, implied
  EXPECT_EQ(Count(S3Op::kHeadObject), 0u);
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);

  MountPosix();
  auto root = GetAttr(kRootInode);  // no object: the mount's own attributes
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(root->mode, S_IFDIR | 0755u);
  mem().ResetCounts();
  std::vector<DirEntry> all = ListAll(kRootInode);
  EXPECT_EQ(Count(S3Op::kHeadObject), kFiles + 3u);  // every file, and each directory's marker
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);
  std::map<std::string, uint32_t> modes;
  for (const DirEntry& e : all) modes[e.name] = e.attr.mode;
  EXPECT_EQ(modes["exec"], 0100755u);
  EXPECT_EQ(modes["f0"], 0100644u);
  EXPECT_EQ(modes["d"], S_IFDIR | 0700u);
  EXPECT_EQ(modes["implied"], S_IFDIR | 0755u);
  // Cached for the metadata TTL: a second listing and the lookups cost no HEAD.
  ListAll(kRootInode);
  EXPECT_EQ(Lookup(kRootInode, "exec")->attr.mode, 0100755u);
  EXPECT_EQ(Count(S3Op::kHeadObject), kFiles + 3u);
  clock_.Advance(seconds(2));
  ListAll(kRootInode);
  EXPECT_EQ(Count(S3Op::kHeadObject), 2 * (kFiles + 3u));
}

TEST_P(PosixTest, RewritesKeepTheMetadata) {
  PutWithMeta("f", "hello", {{"mode", "33256"}, {"uid", "7"}, {"color", "blue"}});
  for (bool posix : {false, true}) {
    MountPosix(posix);
    InodeId ino = Lookup(kRootInode, "f")->attr.ino;
    auto h = Open(ino, O_WRONLY | O_APPEND);  // staged
    ASSERT_TRUE(h.ok());
    ASSERT_TRUE(Write(ino, h->handle, posix ? 6 : 5, "!").ok());  // at the end
    ASSERT_TRUE(Release(ino, h->handle).ok());
    fs().DrainUploads();
    Metadata m = Meta("f");
    EXPECT_EQ(m.at("mode"), "33256") << posix;
    EXPECT_EQ(m.at("uid"), "7");
    EXPECT_EQ(m.at("color"), "blue");
    EXPECT_EQ(m.count("mtime"), posix ? 1u : 0u);  // --posix: the time of the write
  }
  EXPECT_EQ(*mem().Contents("f"), "hello!!");
}

TEST_P(PosixTest, ChangesWhileOpenForWritingAreStoredAtTheCommit) {
  MountPosix();
  auto c = Create(kRootInode, "new");  // streamed
  ASSERT_TRUE(c.ok());
  InodeId ino = c->entry.attr.ino;
  EXPECT_EQ(c->entry.attr.mode, S_IFREG | 0644u);
  ASSERT_TRUE(Write(ino, c->handle, 0, "abc").ok());
  Attr want;
  want.mode = 0755;
  want.mtime_sec = k2020;
  ASSERT_TRUE(SetAttrs(ino, want, FileSystem::kSetMode | FileSystem::kSetMtime).ok());
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(Meta("new"), (Metadata{{"mode", "33261"}, {"mtime", std::to_string(k2020)}}));
  EXPECT_EQ(Count(S3Op::kCopyObject), 0u);  // sent with the PutObject

  // A staged file: the commit carries the change.
  auto h = Open(ino, O_RDWR);
  ASSERT_TRUE(h.ok());
  want.mode = 0700;
  ASSERT_TRUE(SetAttrs(ino, want, FileSystem::kSetMode).ok());
  ASSERT_TRUE(Release(ino, h->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(Meta("new").at("mode"), "33216");
  EXPECT_EQ(*mem().Contents("new"), "abc");
  EXPECT_EQ(Count(S3Op::kCopyObject), 0u);
}

TEST_P(PosixTest, AChangeAfterALargeUploadBeganIsCopiedOntoItAfterwards) {
  FsOptions o;
  o.posix = true;
  o.writer.write_part_size = 5 << 20;  // S3's minimum
  Mount(o);
  auto c = Create(kRootInode, "big");
  ASSERT_TRUE(c.ok());
  InodeId ino = c->entry.attr.ino;
  std::string part(6 << 20, 'x');  // past one part: the multipart upload is created
  ASSERT_TRUE(Write(ino, c->handle, 0, part).ok());
  ASSERT_TRUE(Write(ino, c->handle, part.size(), "y").ok());
  ASSERT_EQ(Count(S3Op::kCreateMultipartUpload), 1u);
  Attr want;
  want.mode = 0751;
  ASSERT_TRUE(SetAttrs(ino, want, FileSystem::kSetMode).ok());
  EXPECT_EQ(Count(S3Op::kCopyObject), 0u);  // not yet: at the end of the upload
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(Count(S3Op::kCopyObject), 1u);
  EXPECT_EQ(Meta("big").at("mode"), std::to_string(S_IFREG | 0751));
  EXPECT_EQ(mem().Contents("big")->size(), part.size() + 1);
  EXPECT_EQ(GetAttr(ino)->mode, S_IFREG | 0751u);
}

TEST_P(PosixTest, AMultipartCommitWithoutPosixKeepsTheMetadata) {
  std::string body(6 << 20, 'a');
  PutWithMeta("m", body, {{"mode", "33256"}, {"color", "blue"}});
  FsOptions o;
  o.allow_overwrite = true;
  o.staging_dir = ::testing::TempDir();
  o.writer.write_part_size = 5 << 20;
  Mount(o);
  InodeId ino = Lookup(kRootInode, "m")->attr.ino;  // a LIST: the metadata is not known
  auto h = Open(ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(Write(ino, h->handle, body.size(), "!").ok());
  mem().ResetCounts();
  ASSERT_TRUE(Release(ino, h->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(Count(S3Op::kCreateMultipartUpload), 1u);
  EXPECT_EQ(Meta("m"), (Metadata{{"mode", "33256"}, {"color", "blue"}}));
  EXPECT_EQ(mem().Contents("m")->size(), body.size() + 1);
}

}  // namespace
}  // namespace s3m
