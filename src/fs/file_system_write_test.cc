// FileSystem file tests: create/write/flush uploads, empty files, overwrite rules, one
// writer per file, read-only mounts, unlink, upload failures (FaultInjectingClient), and
// reads pinned to the ETag seen at open.
#include "fs/fs_test_fixture.h"

namespace s3m {
namespace {

class WriteTest : public FsTest {};
S3M_FS_TEST_SUITE(WriteTest);

TEST_P(WriteTest, CreateWriteFlushUploadsTheExactBytes) {
  Mount();
  auto c = Create(kRootInode, "new.bin");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  InodeId ino = c->entry.attr.ino;
  std::string data = "hello, ";
  ASSERT_EQ(*Write(ino, c->handle, 0, data), data.size());
  ASSERT_EQ(*Write(ino, c->handle, 7, "world"), 5u);
  EXPECT_FALSE(mem().Contents("new.bin").has_value());  // not visible until flush
  EXPECT_EQ(GetAttr(ino)->size, 12u);
  EXPECT_CODE(Create(kRootInode, "new.bin"), Code::kExists);
  EXPECT_CODE(Open(ino, O_RDONLY), Code::kPermission);  // being written
  EXPECT_CODE(Open(ino, O_WRONLY | O_TRUNC), Code::kPermission);
  EXPECT_CODE(Unlink(kRootInode, "new.bin"), Code::kPermission);  // no --allow-delete

  ASSERT_TRUE(Flush(ino, c->handle).ok());
  EXPECT_EQ(*mem().Contents("new.bin"), "hello, world");
  EXPECT_CODE(Write(ino, c->handle, 12, "more"), Code::kBadHandle);  // committed
  EXPECT_TRUE(Flush(ino, c->handle).ok());
  EXPECT_TRUE(Release(ino, c->handle).ok());

  mem().ResetCounts();
  auto a = GetAttr(ino);  // a normal remote file now, fresh from the upload
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 12u);
  auto r = Open(ino, O_RDONLY);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*ReadString(ino, r->handle, 0, 100), "hello, world");
  EXPECT_EQ(mem().TotalRequests(), 1u);  // the GET, with the ETag from the upload
  EXPECT_TRUE(Release(ino, r->handle).ok());
  EXPECT_EQ(fs().Stats().open_handles, 0u);
}

// The reply to an open can fail (the caller is gone): the adapter then discards the handle.
// Nothing may take effect: no object is truncated or created, and the inode can be opened
// for writing again (it was left "being written" when the adapter released inode 0).
TEST_P(WriteTest, DiscardedOpensChangeNothing) {
  mem().Put("o", "old");
  FsOptions o;
  o.allow_overwrite = true;
  Mount(o);
  InodeId ino = Lookup(kRootInode, "o")->attr.ino;
  mem().ResetCounts();
  auto w = Open(ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  fs().Discard(ino, w->handle);
  fs().DrainUploads();
  EXPECT_EQ(fs().Stats().open_handles, 0u);
  EXPECT_EQ(*mem().Contents("o"), "old");
  EXPECT_EQ(Count(S3Op::kPutObject) + Count(S3Op::kCreateMultipartUpload), 0u);
  auto again = Open(ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(*Write(ino, again->handle, 0, "new"), 3u);
  ASSERT_TRUE(Release(ino, again->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("o"), "new");

  auto c = Create(kRootInode, "never");
  ASSERT_TRUE(c.ok());
  fs().Discard(c->entry.attr.ino, c->handle);
  fs().Forget(c->entry.attr.ino, 1);
  fs().DrainUploads();
  EXPECT_FALSE(mem().Contents("never").has_value());
  EXPECT_CODE(Lookup(kRootInode, "never"), Code::kNotFound);
  EXPECT_EQ(fs().Stats().open_handles, 0u);
}

TEST_P(WriteTest, EmptyFilesBecomeZeroByteObjects) {
  Mount();
  WriteFile(kRootInode, "touched", "");
  ASSERT_TRUE(mem().Contents("touched").has_value());
  EXPECT_EQ(*mem().Contents("touched"), "");
  auto e = Lookup(kRootInode, "touched");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->attr.size, 0u);
}

TEST_P(WriteTest, OverwriteNeedsTruncAndTheOption) {
  mem().Put("o", "old");
  Mount();
  auto e = Lookup(kRootInode, "o");
  ASSERT_TRUE(e.ok());
  InodeId ino = e->attr.ino;
  EXPECT_CODE(Open(ino, O_WRONLY | O_TRUNC), Code::kPermission);
  // O_RDWR without O_TRUNC opens for reading only.
  auto rw = Open(ino, O_RDWR);
  ASSERT_TRUE(rw.ok());
  EXPECT_CODE(Write(ino, rw->handle, 0, "x"), Code::kBadHandle);
  EXPECT_EQ(*ReadString(ino, rw->handle, 0, 10), "old");
  EXPECT_TRUE(Release(ino, rw->handle).ok());

  FsOptions o;
  o.allow_overwrite = true;
  Mount(o);
  ino = Lookup(kRootInode, "o")->attr.ino;
  // Without O_TRUNC the object is changed in place (file_system_staged_test.cc); with it,
  // the new version streams and nothing of the old one is read.
  mem().ResetCounts();
  auto w = Open(ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE(Write(ino, w->handle, 0, "brand new").ok());
  ASSERT_TRUE(Flush(ino, w->handle).ok());
  EXPECT_TRUE(Release(ino, w->handle).ok());
  EXPECT_EQ(*mem().Contents("o"), "brand new");
  EXPECT_EQ(GetAttr(ino)->size, 9u);
  EXPECT_EQ(Count(S3Op::kGetObject), 0u);
  EXPECT_EQ(Count(S3Op::kPutObject), 1u);
}

TEST_P(WriteTest, ReadOnlyRefusesEveryMutation) {
  mem().Put("f", "1");
  mem().Put("d/x", "1");
  FsOptions o;
  o.read_only = true;
  o.allow_delete = true;
  o.allow_overwrite = true;
  Mount(o);
  auto f = Lookup(kRootInode, "f");
  ASSERT_TRUE(f.ok());
  EXPECT_CODE(Create(kRootInode, "g"), Code::kReadOnly);
  EXPECT_CODE(Mkdir(kRootInode, "e"), Code::kReadOnly);
  EXPECT_CODE(Rmdir(kRootInode, "d"), Code::kReadOnly);
  EXPECT_CODE(Unlink(kRootInode, "f"), Code::kReadOnly);
  EXPECT_CODE(Open(f->attr.ino, O_WRONLY | O_TRUNC), Code::kReadOnly);
  EXPECT_CODE(SetAttr(f->attr.ino, f->attr, false, false, false), Code::kReadOnly);
  auto r = Open(f->attr.ino, O_RDONLY);  // reading still works
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(Release(f->attr.ino, r->handle).ok());
  EXPECT_EQ(mem().ObjectCount(), 2u);
}

TEST_P(WriteTest, UnlinkNeedsAllowDelete) {
  mem().Put("f", "1");
  mem().Put("d/x", "1");
  Mount();
  EXPECT_CODE(Unlink(kRootInode, "f"), Code::kPermission);
  FsOptions o;
  o.allow_delete = true;
  Mount(o);
  EXPECT_CODE(Unlink(kRootInode, "d"), Code::kIsDirectory);
  EXPECT_CODE(Unlink(kRootInode, "nope"), Code::kNotFound);
  ASSERT_TRUE(Lookup(kRootInode, "f").ok());
  EXPECT_TRUE(Unlink(kRootInode, "f").ok());
  EXPECT_FALSE(mem().Contents("f").has_value());
  EXPECT_CODE(Lookup(kRootInode, "f"), Code::kNotFound);
  auto c = Create(kRootInode, "w");
  ASSERT_TRUE(c.ok());
  EXPECT_CODE(Unlink(kRootInode, "w"), Code::kBusy);  // being written
  EXPECT_TRUE(Release(c->entry.attr.ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_TRUE(Unlink(kRootInode, "w").ok());
}

TEST_P(WriteTest, PutFailureIsReturnedByFlush) {
  Mount();
  faults_->SetFault(S3Op::kPutObject,
                    {Status(Code::kServerError, "injected").set_http_status(500)});
  auto c = Create(kRootInode, "f");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(Write(c->entry.attr.ino, c->handle, 0, "data").ok());
  EXPECT_CODE(Flush(c->entry.attr.ino, c->handle), Code::kServerError);
  EXPECT_CODE(Flush(c->entry.attr.ino, c->handle), Code::kServerError);  // never swallowed
  EXPECT_TRUE(Release(c->entry.attr.ino, c->handle).ok());
  faults_->ClearFaults();
  EXPECT_FALSE(mem().Contents("f").has_value());
  EXPECT_CODE(Lookup(kRootInode, "f"), Code::kNotFound);
  WriteFile(kRootInode, "f", "again");  // the name is free again
  EXPECT_EQ(*mem().Contents("f"), "again");
}

TEST_P(WriteTest, PartFailureIsReturnedByFsync) {
  FsOptions o;
  o.writer.write_part_size = 5 << 20;  // S3's minimum part size
  Mount(o);
  faults_->SetFault(S3Op::kUploadPart, {Status(Code::kNetwork, "reset"), 1, 1});
  auto c = Create(kRootInode, "big");
  ASSERT_TRUE(c.ok());
  std::string data((11 << 20) + 3, 'b');
  // The part may fail while later data is still being written: then Write reports it.
  auto w = Write(c->entry.attr.ino, c->handle, 0, data);
  if (!w.ok()) {
    EXPECT_CODE(w, Code::kNetwork);
  }
  auto s = Wait<Empty>([&](auto cb) { fs().Fsync(c->entry.attr.ino, c->handle, cb); });
  EXPECT_CODE(s, Code::kNetwork);
  EXPECT_TRUE(Release(c->entry.attr.ino, c->handle).ok());
  EXPECT_FALSE(mem().Contents("big").has_value());
  EXPECT_EQ(faults_->Injected(S3Op::kUploadPart), 1);
}

TEST_P(WriteTest, ReleaseUploadsAndDrainWaits) {
  Mount();
  auto c = Create(kRootInode, "r");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(Write(c->entry.attr.ino, c->handle, 0, "abc").ok());
  EXPECT_TRUE(Release(c->entry.attr.ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("r"), "abc");
}

class ReadTest : public FsTest {};
S3M_FS_TEST_SUITE(ReadTest);

TEST_P(ReadTest, OpenSeesTheNewObjectAndOldHandlesGoStale) {
  std::string v1 = "version one" + std::string(1 << 20, 'x');
  mem().Put("f", v1);
  FsOptions o;
  o.metadata_ttl = std::chrono::nanoseconds::zero();
  // Small requests, so that a read far ahead needs a GET of its own (bytes already
  // fetched from the old version may still be served: they are all of one version).
  o.reader.first_request_bytes = 4;
  o.reader.read_part_size = 64 << 10;
  Mount(o);
  auto e = Lookup(kRootInode, "f");
  ASSERT_TRUE(e.ok());
  InodeId ino = e->attr.ino;
  auto old = Open(ino, O_RDONLY);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(*ReadString(ino, old->handle, 0, 7), "version");
  mem().Put("f", "version two!");
  EXPECT_CODE(ReadString(ino, old->handle, 1000000, 3), Code::kStale);
  mem().ResetCounts();
  // HEAD: the new ETag. The old handle is still open, so the new version gets an inode of
  // its own: this open fails with ESTALE and the kernel looks the path up again.
  EXPECT_CODE(Open(ino, O_RDONLY), Code::kStale);
  EXPECT_EQ(Count(S3Op::kHeadObject), 1u);
  auto again = Lookup(kRootInode, "f");
  ASSERT_TRUE(again.ok());
  const InodeId fresh_ino = again->attr.ino;
  ASSERT_NE(fresh_ino, ino);
  auto fresh = Open(fresh_ino, O_RDONLY);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(*ReadString(fresh_ino, fresh->handle, 0, 100), "version two!");
  EXPECT_EQ(GetAttr(fresh_ino)->size, 12u);
  EXPECT_EQ(GetAttr(ino)->size, v1.size());  // the old version's, for the handle open on it
  EXPECT_TRUE(Release(ino, old->handle).ok());
  EXPECT_TRUE(Release(fresh_ino, fresh->handle).ok());
  EXPECT_CODE(Release(fresh_ino, fresh->handle), Code::kBadHandle);

  mem().Remove("f");
  EXPECT_CODE(Open(fresh_ino, O_RDONLY), Code::kNotFound);
}

TEST_P(ReadTest, ReadErrorsPassThrough) {
  mem().Put("f", "data");
  Mount();
  auto e = Lookup(kRootInode, "f");
  ASSERT_TRUE(e.ok());
  auto h = Open(e->attr.ino, O_RDONLY);
  ASSERT_TRUE(h.ok());
  faults_->SetFault(S3Op::kGetObject, {Status(Code::kAccessDenied, "denied")});
  EXPECT_CODE(ReadString(e->attr.ino, h->handle, 0, 4), Code::kAccessDenied);
  EXPECT_CODE(ReadString(e->attr.ino, h->handle + 100, 0, 4), Code::kBadHandle);
  EXPECT_TRUE(Release(e->attr.ino, h->handle).ok());
  EXPECT_CODE(Open(kRootInode, O_RDONLY), Code::kIsDirectory);
}

TEST_P(ReadTest, LookupErrorsPassThrough) {
  Mount();
  faults_->SetFault(S3Op::kListObjects, {Status(Code::kAccessDenied, "denied")});
  EXPECT_CODE(Lookup(kRootInode, "x"), Code::kAccessDenied);
  auto h = fs().OpenDir(kRootInode);
  ASSERT_TRUE(h.ok());
  EXPECT_CODE(ReadDir(kRootInode, *h, 0, 10), Code::kAccessDenied);
  fs().ReleaseDir(kRootInode, *h);
}

}  // namespace
}  // namespace s3m

namespace s3m {
namespace {

class EmptyFlushTest : public FsTest {};
S3M_FS_TEST_SUITE(EmptyFlushTest);

// `touch f`: the empty object exists when close (flush) returns, and release adds nothing.
TEST_P(EmptyFlushTest, EmptyFileExistsWhenCloseReturns) {
  Mount();
  auto c = Create(kRootInode, "touched");
  ASSERT_TRUE(c.ok());
  auto f = Wait<Empty>([&](auto cb) { fs().Flush(c->entry.attr.ino, c->handle, cb); });
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(mem().Contents("touched"), std::optional<std::string>(""));
  mem().ResetCounts();
  EXPECT_TRUE(Release(c->entry.attr.ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(mem().TotalRequests(), 0u);
  EXPECT_EQ(GetAttr(c->entry.attr.ino)->size, 0u);
}

// `echo x > f`: the shell's first close flushes before the write; the data written
// afterwards replaces the empty object at the last close.
TEST_P(EmptyFlushTest, WritesAfterAnEmptyFlushReplaceTheEmptyObject) {
  Mount();
  auto c = Create(kRootInode, "echoed");
  ASSERT_TRUE(c.ok());
  InodeId ino = c->entry.attr.ino;
  ASSERT_TRUE(Wait<Empty>([&](auto cb) { fs().Flush(ino, c->handle, cb); }).ok());
  ASSERT_TRUE(Write(ino, c->handle, 0, "hello\n").ok());
  ASSERT_TRUE(Wait<Empty>([&](auto cb) { fs().Flush(ino, c->handle, cb); }).ok());
  EXPECT_EQ(*mem().Contents("echoed"), "hello\n");
  EXPECT_TRUE(Release(ino, c->handle).ok());
  EXPECT_EQ(*mem().Contents("echoed"), "hello\n");
}

}  // namespace
}  // namespace s3m

namespace s3m {
namespace {

class RemoveAfterCloseTest : public FsTest {};
S3M_FS_TEST_SUITE(RemoveAfterCloseTest);

// `: > f; rm f`: the unlink may arrive before the kernel's release of the closed file.
TEST_P(RemoveAfterCloseTest, UnlinkAfterEmptyCloseBeforeRelease) {
  FsOptions o;
  o.allow_delete = true;
  Mount(o);
  auto c = Create(kRootInode, "f");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(Flush(c->entry.attr.ino, c->handle).ok());
  EXPECT_TRUE(Unlink(kRootInode, "f").ok());
  EXPECT_FALSE(mem().Contents("f").has_value());
  EXPECT_TRUE(Release(c->entry.attr.ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_FALSE(mem().Contents("f").has_value());  // the release did not bring it back
}

// mkdir d; touch d/x; rm d/x; rmdir d — the directory S3 implied is gone with its last key.
TEST_P(RemoveAfterCloseTest, RmdirOfADirectoryEmptiedByDeletes) {
  FsOptions o;
  o.allow_delete = true;
  Mount(o);
  mem().Put("d/x", "1");
  mem().Put("e/", "");  // a directory marker
  mem().Put("full/y", "2");
  ASSERT_TRUE(Lookup(kRootInode, "d").ok());
  EXPECT_TRUE(Unlink(Lookup(kRootInode, "d")->attr.ino, "x").ok());
  EXPECT_TRUE(Rmdir(kRootInode, "d").ok());
  EXPECT_CODE(Lookup(kRootInode, "d"), Code::kNotFound);
  EXPECT_TRUE(Rmdir(kRootInode, "e").ok());
  EXPECT_FALSE(mem().Contents("e/").has_value());
  EXPECT_CODE(Rmdir(kRootInode, "full"), Code::kNotEmpty);
}

}  // namespace
}  // namespace s3m

namespace s3m {
namespace {

class SpoiledWriteTest : public FsTest {};
S3M_FS_TEST_SUITE(SpoiledWriteTest);

// A write the application saw fail must not end up as a truncated object in S3.
TEST_P(SpoiledWriteTest, FailedWriteIsNeverCommitted) {
  FsOptions o;
  o.writer.write_part_size = 5 << 20;
  Mount(o);
  auto c = Create(kRootInode, "partial");
  ASSERT_TRUE(c.ok());
  InodeId ino = c->entry.attr.ino;
  std::string part((5 << 20) + 7, 'p');  // one full part goes out as a multipart upload
  ASSERT_TRUE(Write(ino, c->handle, 0, part).ok());
  EXPECT_CODE(Write(ino, c->handle, part.size() + 4096, "late"), Code::kInvalidArgument);
  EXPECT_CODE(Write(ino, c->handle, part.size(), "next"), Code::kInvalidArgument);  // sticky
  EXPECT_CODE(Flush(ino, c->handle), Code::kInvalidArgument);
  EXPECT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_FALSE(mem().Contents("partial").has_value());
  EXPECT_EQ(Count(S3Op::kCompleteMultipartUpload), 0u);
  // The abort follows the in-flight part's completion, which the async client delivers
  // on its own thread: give it up to a second.
  for (int i = 0; i < 1000 && mem().PendingUploads() != 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(mem().PendingUploads(), 0u);  // aborted
}

}  // namespace
}  // namespace s3m
