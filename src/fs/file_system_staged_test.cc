// FileSystem tests of files changed in place (StagedHandle): appends, writes at any
// offset, reading back on O_RDWR, truncation, the requests a commit costs (copies of the
// unchanged bytes), objects changed in S3 since open, failed uploads, and the staging
// budget.
#include "fs/fs_test_fixture.h"
#include "s3/forwarding_client.h"

namespace s3m {
namespace {

constexpr uint64_t kMiB = 1 << 20;

class StagedTest : public FsTest {
 protected:
  FileSystem& MountRw(uint64_t staging_limit = 64 * kMiB) {
    FsOptions o;
    o.allow_overwrite = true;
    o.staging_dir = ::testing::TempDir();
    o.staging_limit_bytes = staging_limit;
    o.writer.write_part_size = 5 * kMiB;
    return Mount(o);
  }
  InodeId Ino(const std::string& name) { return Lookup(kRootInode, name)->attr.ino; }
  Result<CreateResult> CreateRw(const std::string& name) {
    return Wait<CreateResult>([&](auto cb) { fs().Create(kRootInode, name, 0644, O_RDWR, cb); });
  }
  Result<Empty> Fsync(InodeId ino, uint64_t h) {
    return Wait<Empty>([&](auto cb) { fs().Fsync(ino, h, cb); });
  }
  // Open, write `data` at `offset`, close: the file's new content.
  void WriteAt(const std::string& name, int flags, uint64_t offset, const std::string& data) {
    InodeId ino = Ino(name);
    auto h = Open(ino, flags);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    ASSERT_EQ(*Write(ino, h->handle, offset, data), data.size());
    ASSERT_TRUE(Flush(ino, h->handle).ok());
    ASSERT_TRUE(Release(ino, h->handle).ok());
    fs().DrainUploads();
  }
};
S3M_FS_TEST_SUITE(StagedTest);

TEST_P(StagedTest, AppendAndWriteInPlace) {
  mem().Put("log", "hello");
  MountRw();
  WriteAt("log", O_WRONLY | O_APPEND, 5, " world");
  EXPECT_EQ(*mem().Contents("log"), "hello world");
  WriteAt("log", O_WRONLY, 0, "J");  // dd conv=notrunc: no O_TRUNC, the rest stays
  EXPECT_EQ(*mem().Contents("log"), "Jello world");
  auto a = GetAttr(Ino("log"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 11u);
}

// close(2) returns once the flush has stored the file; the kernel's release comes later. A
// program that closes and opens the file again in between must find it stored, not busy.
TEST_P(StagedTest, AFlushedFileOpensAgainBeforeItsRelease) {
  mem().Put("log", "a");
  MountRw();
  InodeId ino = Ino("log");
  auto first = Open(ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(Write(ino, first->handle, 1, "b").ok());
  EXPECT_CODE(Open(ino, O_RDONLY), Code::kPermission);  // not stored yet: being written
  ASSERT_TRUE(Flush(ino, first->handle).ok());
  auto again = Open(ino, O_RDONLY);  // the release of `first` has not come yet
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*ReadString(ino, again->handle, 0, 10), "ab");
  ASSERT_TRUE(Release(ino, again->handle).ok());
  ASSERT_TRUE(Release(ino, first->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("log"), "ab");
}

TEST_P(StagedTest, ReadBackWhatWasWrittenOnReadWrite) {
  mem().Put("f", "0123456789");
  MountRw();
  InodeId ino = Ino("f");
  auto h = Open(ino, O_RDWR);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_TRUE(Write(ino, h->handle, 2, "XY").ok());
  EXPECT_EQ(*ReadString(ino, h->handle, 0, 100), "01XY456789");
  EXPECT_EQ(*ReadString(ino, h->handle, 3, 4), "Y456");
  ASSERT_TRUE(Write(ino, h->handle, 12, "Z").ok());  // past the end: a hole of zeros
  EXPECT_EQ(*ReadString(ino, h->handle, 8, 10), std::string("89\0\0Z", 5));
  Attr want;
  want.size = 4;  // ftruncate
  ASSERT_TRUE(SetAttr(ino, want, true, false, false, h->handle).ok());
  want.size = 6;  // grown again: zeros, not the old bytes
  auto a = SetAttr(ino, want, true, false, false, h->handle);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 6u);
  EXPECT_EQ(*ReadString(ino, h->handle, 0, 100), std::string("01XY\0\0", 6));
  EXPECT_EQ(*mem().Contents("f"), "0123456789");  // nothing is stored before flush
  ASSERT_TRUE(Release(ino, h->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("f"), std::string("01XY\0\0", 6));
}

TEST_P(StagedTest, AnAppendToALargeObjectCopiesTheRest) {
  std::string big(12 * kMiB, 'a');
  mem().Put("big", big);
  MountRw();
  InodeId ino = Ino("big");
  mem().ResetCounts();
  auto h = Open(ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(h.ok());
  std::string tail(kMiB, 'b');
  ASSERT_TRUE(Write(ino, h->handle, big.size(), tail).ok());
  ASSERT_TRUE(Release(ino, h->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("big"), big + tail);
  EXPECT_EQ(Count(S3Op::kGetObject), 0u);  // nothing downloaded
  EXPECT_EQ(Count(S3Op::kUploadPartCopy), 1u);
  EXPECT_EQ(Count(S3Op::kUploadPart), 1u);
  EXPECT_EQ(Count(S3Op::kCompleteMultipartUpload), 1u);
}

TEST_P(StagedTest, AnObjectChangedInS3SinceOpenIsNotReplaced) {
  mem().Put("small", "v1");
  mem().Put("big", std::string(12 * kMiB, 'a'));
  MountRw();
  for (std::string name : {"small", "big"}) {
    SCOPED_TRACE(name);
    InodeId ino = Ino(name);
    auto h = Open(ino, O_RDWR);
    ASSERT_TRUE(h.ok());
    ASSERT_TRUE(Write(ino, h->handle, 0, "mine").ok());
    mem().Put(name, "theirs");  // another node replaces the object
    EXPECT_CODE(Flush(ino, h->handle), Code::kPreconditionFailed);
    EXPECT_EQ(*mem().Contents(name), "theirs");
    ASSERT_TRUE(Release(ino, h->handle).ok());
    fs().DrainUploads();
    EXPECT_EQ(*mem().Contents(name), "theirs");
    EXPECT_EQ(mem().PendingUploads(), 0u);  // an upload that failed was aborted
  }
  // Truncated to zero, nothing of the old version is read: a HEAD checks it instead.
  mem().Put("t", "old");
  InodeId ino = Ino("t");
  auto h = Open(ino, O_RDWR | O_TRUNC);
  ASSERT_TRUE(h.ok());
  mem().Put("t", "changed");
  EXPECT_CODE(Flush(ino, h->handle), Code::kPreconditionFailed);
  ASSERT_TRUE(Release(ino, h->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("t"), "changed");
}

TEST_P(StagedTest, AFailedCommitKeepsTheOldObjectAndTheStagedBytes) {
  mem().Put("f", "old");
  MountRw();
  InodeId ino = Ino("f");
  auto h = Open(ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(Write(ino, h->handle, 3, "+new").ok());
  faults().SetFault(S3Op::kPutObject, {Status(Code::kServerError, "injected"), 0, 1});
  EXPECT_CODE(Fsync(ino, h->handle), Code::kServerError);
  EXPECT_EQ(*mem().Contents("f"), "old");
  EXPECT_TRUE(Fsync(ino, h->handle).ok());  // the staged bytes are still there
  EXPECT_EQ(*mem().Contents("f"), "old+new");
  ASSERT_TRUE(Release(ino, h->handle).ok());

  mem().Put("big", std::string(12 * kMiB, 'a'));
  ino = Ino("big");
  h = Open(ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(Write(ino, h->handle, 12 * kMiB, "tail").ok());
  faults().SetFault(S3Op::kCompleteMultipartUpload, {Status(Code::kServerError, "injected")});
  EXPECT_CODE(Flush(ino, h->handle), Code::kServerError);
  ASSERT_TRUE(Release(ino, h->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(mem().Contents("big")->size(), 12 * kMiB);
  EXPECT_EQ(mem().PendingUploads(), 0u);
}

TEST_P(StagedTest, TheStagingBudgetBoundsLocalBytes) {
  mem().Put("f", "");
  MountRw(/*staging_limit=*/kMiB);
  InodeId ino = Ino("f");
  auto h = Open(ino, O_RDWR);
  ASSERT_TRUE(h.ok());
  std::string half(kMiB / 2, 'x');
  ASSERT_TRUE(Write(ino, h->handle, 0, half).ok());
  ASSERT_TRUE(Write(ino, h->handle, 0, half).ok());  // rewriting the same bytes costs nothing
  ASSERT_TRUE(Write(ino, h->handle, half.size(), half).ok());
  EXPECT_CODE(Write(ino, h->handle, kMiB, "y"), Code::kNoSpace);
  ASSERT_TRUE(Fsync(ino, h->handle).ok());  // committed: the budget is free again
  EXPECT_TRUE(Write(ino, h->handle, kMiB, "y").ok());
  ASSERT_TRUE(Release(ino, h->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("f"), std::string(kMiB, 'x') + "y");
}

TEST_P(StagedTest, TruncatingAClosedFile) {
  mem().Put("f", "0123456789");
  MountRw();
  InodeId ino = Ino("f");
  Attr want;
  want.size = 4;
  auto a = SetAttr(ino, want, true, false, false);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->size, 4u);
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("f"), "0123");
  want.size = 0;
  ASSERT_TRUE(SetAttr(ino, want, true, false, false).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("f"), "");
  EXPECT_EQ(fs().Stats().open_handles, 0u);
}

TEST_P(StagedTest, ANewFileOpenForReadingAndWritingIsStaged) {
  MountRw();
  auto c = Wait<CreateResult>([&](auto cb) { fs().Create(kRootInode, "n", 0644, O_RDWR, cb); });
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  InodeId ino = c->entry.attr.ino;
  ASSERT_TRUE(Write(ino, c->handle, 4, "late").ok());  // out of order: fine when staged
  ASSERT_TRUE(Write(ino, c->handle, 0, "ab").ok());
  EXPECT_EQ(*ReadString(ino, c->handle, 0, 100), std::string("ab\0\0late", 8));
  EXPECT_CODE(Open(ino, O_RDONLY), Code::kPermission);  // being written
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("n"), std::string("ab\0\0late", 8));

  // Created for reading and writing and closed untouched: an empty object.
  c = Wait<CreateResult>([&](auto cb) { fs().Create(kRootInode, "e", 0644, O_RDWR, cb); });
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(Release(c->entry.attr.ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("e"), "");
}

// IOR, git and mkstemp create files O_RDWR and mostly write them sequentially: they stream
// (parts leave while the file is written) at the cost of an O_WRONLY file, and turn staged
// at a read, an out-of-order write or a truncation. While every byte is still in the first
// part the switch costs no request.
TEST_P(StagedTest, ANewReadWriteFileStreamsUntilItIsRead) {
  MountRw();
  auto c = CreateRw("seq");
  ASSERT_TRUE(c.ok());
  InodeId ino = c->entry.attr.ino;
  std::string part(5 * kMiB, 's');
  for (int i = 0; i < 3; i++) ASSERT_TRUE(Write(ino, c->handle, i * part.size(), part).ok());
  ASSERT_TRUE(Write(ino, c->handle, 3 * part.size(), "end").ok());
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("seq"), part + part + part + "end");
  EXPECT_EQ(Count(S3Op::kCreateMultipartUpload), 1u);
  EXPECT_EQ(Count(S3Op::kUploadPart), 4u);
  EXPECT_EQ(Count(S3Op::kCompleteMultipartUpload), 1u);
  for (S3Op op : {S3Op::kHeadObject, S3Op::kGetObject, S3Op::kPutObject, S3Op::kUploadPartCopy}) {
    EXPECT_EQ(Count(op), 0u) << S3OpName(op);
  }

  c = CreateRw("early");
  ASSERT_TRUE(c.ok());
  ino = c->entry.attr.ino;
  mem().ResetCounts();  // after the create's LIST
  ASSERT_TRUE(Write(ino, c->handle, 0, "header").ok());
  EXPECT_EQ(*ReadString(ino, c->handle, 0, 100), "header");  // staged now, read back
  ASSERT_TRUE(Write(ino, c->handle, 0, "H").ok());
  EXPECT_EQ(mem().TotalRequests(), 0u);  // the bytes came back from the part buffer
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("early"), "Header");
}

// After parts have left, a read completes the upload (the object then holds what was
// written), and the file goes on as a staged change of that object: reads come from S3,
// later writes are staged and committed at close, copying the unchanged parts.
TEST_P(StagedTest, ANewReadWriteFileReadsBackAfterPartsLeft) {
  MountRw();
  auto c = CreateRw("big");
  ASSERT_TRUE(c.ok());
  InodeId ino = c->entry.attr.ino;
  std::string a(6 * kMiB, 'a'), b(6 * kMiB, 'b');
  ASSERT_TRUE(Write(ino, c->handle, 0, a).ok());
  ASSERT_TRUE(Write(ino, c->handle, a.size(), b).ok());
  EXPECT_FALSE(mem().Contents("big").has_value());  // streaming: not an object yet
  EXPECT_EQ(*ReadString(ino, c->handle, 0, 4), "aaaa");
  // The read completed the upload: the stream's last part and the completion, no more.
  EXPECT_EQ(*mem().Contents("big"), a + b);
  EXPECT_EQ(Count(S3Op::kCompleteMultipartUpload), 1u);
  EXPECT_EQ(Count(S3Op::kPutObject), 0u);
  EXPECT_EQ(*ReadString(ino, c->handle, a.size() - 2, 4), "aabb");  // the middle
  EXPECT_CODE(Open(ino, O_RDONLY), Code::kPermission);              // still being written
  mem().ResetCounts();
  ASSERT_TRUE(Write(ino, c->handle, 12 * kMiB, "tail").ok());  // at the end
  ASSERT_TRUE(Write(ino, c->handle, 1, "X").ok());             // and in place
  EXPECT_EQ(*ReadString(ino, c->handle, 0, 3), "aXa");
  EXPECT_EQ(*ReadString(ino, c->handle, 12 * kMiB - 1, 10), "btail");
  EXPECT_EQ(*mem().Contents("big"), a + b);  // staged until close
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  std::string want = a + b + "tail";
  want[1] = 'X';
  EXPECT_EQ(*mem().Contents("big"), want);
  EXPECT_GE(Count(S3Op::kUploadPartCopy), 1u);  // the unchanged run was copied in S3
  EXPECT_EQ(Count(S3Op::kCompleteMultipartUpload), 1u);
  EXPECT_EQ(fs().Stats().open_handles, 0u);
}

// An out-of-order write or a write after fsync switches the same way; a file read back and
// closed unchanged costs nothing more at close.
TEST_P(StagedTest, ANewReadWriteFileTakesOutOfOrderWritesAfterPartsLeft) {
  MountRw();
  auto c = CreateRw("f");
  ASSERT_TRUE(c.ok());
  InodeId ino = c->entry.attr.ino;
  std::string a(11 * kMiB, 'a');
  ASSERT_TRUE(Write(ino, c->handle, 0, a).ok());
  ASSERT_TRUE(Write(ino, c->handle, 2, "out of order").ok());
  ASSERT_TRUE(Fsync(ino, c->handle).ok());
  std::string want = a;
  want.replace(2, 12, "out of order");
  EXPECT_EQ(*mem().Contents("f"), want);
  ASSERT_TRUE(Write(ino, c->handle, a.size(), "+").ok());  // sequential, after fsync
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("f"), want + "+");

  c = CreateRw("g");
  ASSERT_TRUE(c.ok());
  ino = c->entry.attr.ino;
  ASSERT_TRUE(Write(ino, c->handle, 0, a).ok());
  ASSERT_TRUE(Fsync(ino, c->handle).ok());  // the stream completes: no switch yet
  ASSERT_TRUE(Write(ino, c->handle, a.size(), "more").ok());
  ASSERT_TRUE(Fsync(ino, c->handle).ok());
  EXPECT_EQ(*mem().Contents("g"), a + "more");
  EXPECT_EQ(*ReadString(ino, c->handle, a.size() - 1, 10), "amore");
  mem().ResetCounts();
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(mem().TotalRequests(), 0u);  // nothing changed since the last fsync
}

// A rename uploads a file being written first; its handle then holds bytes stored under
// the new name, so it no longer turns staged (writes would go to the old key).
TEST_P(StagedTest, ANewReadWriteFileRenamedWhileOpenStopsChanging) {
  FsOptions o;
  o.allow_overwrite = o.allow_delete = true;
  o.staging_dir = ::testing::TempDir();
  o.writer.write_part_size = 5 * kMiB;
  Mount(o);
  auto c = CreateRw("f");
  ASSERT_TRUE(c.ok());
  InodeId ino = c->entry.attr.ino;
  std::string a(6 * kMiB, 'a');
  ASSERT_TRUE(Write(ino, c->handle, 0, a).ok());
  auto r = Wait<Empty>([&](auto cb) { fs().Rename(kRootInode, "f", kRootInode, "g", 0, cb); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*mem().Contents("g"), a);
  EXPECT_CODE(ReadString(ino, c->handle, 0, 4), Code::kStale);
  EXPECT_CODE(Write(ino, c->handle, 0, "x"), Code::kStale);
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("g"), a);
  EXPECT_FALSE(mem().Contents("f").has_value());
}

// ftruncate that cuts a streamed file: the upload completes, then the cut is staged.
TEST_P(StagedTest, CuttingANewStreamedFile) {
  MountRw();
  for (int flags : {O_RDWR, O_WRONLY}) {
    SCOPED_TRACE(flags);
    std::string name = flags == O_RDWR ? "rw" : "wo";
    auto c = Wait<CreateResult>([&](auto cb) { fs().Create(kRootInode, name, 0644, flags, cb); });
    ASSERT_TRUE(c.ok());
    InodeId ino = c->entry.attr.ino;
    std::string a(12 * kMiB, 'c');
    ASSERT_TRUE(Write(ino, c->handle, 0, a).ok());
    Attr want;
    want.size = 7 * kMiB;
    auto r = SetAttr(ino, want, true, false, false, c->handle);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->size, 7 * kMiB);
    EXPECT_EQ(GetAttr(ino)->size, 7 * kMiB);
    want.size = 8 * kMiB;  // grows again by zeros
    ASSERT_TRUE(SetAttr(ino, want, true, false, false, c->handle).ok());
    ASSERT_TRUE(Release(ino, c->handle).ok());
    fs().DrainUploads();
    EXPECT_EQ(*mem().Contents(name), std::string(7 * kMiB, 'c') + std::string(kMiB, '\0'));
  }
}

// The error paths: a failed completion of the stream fails the read and the file (close
// reports it, nothing is stored); a failed commit after the switch leaves the object the
// switch stored, and reports the error at close.
TEST_P(StagedTest, ANewReadWriteFileThatCannotBeStoredFailsAtClose) {
  MountRw();
  auto c = CreateRw("f");
  ASSERT_TRUE(c.ok());
  InodeId ino = c->entry.attr.ino;
  std::string a(6 * kMiB, 'a');
  ASSERT_TRUE(Write(ino, c->handle, 0, a).ok());
  faults().SetFault(S3Op::kCompleteMultipartUpload, {Status(Code::kServerError, "injected")});
  EXPECT_CODE(ReadString(ino, c->handle, 0, 10), Code::kServerError);
  EXPECT_CODE(Write(ino, c->handle, a.size(), "x"), Code::kServerError);
  EXPECT_CODE(Flush(ino, c->handle), Code::kServerError);
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_FALSE(mem().Contents("f").has_value());
  EXPECT_EQ(mem().PendingUploads(), 0u);
  faults().ClearFaults();

  c = CreateRw("g");
  ASSERT_TRUE(c.ok());
  ino = c->entry.attr.ino;
  ASSERT_TRUE(Write(ino, c->handle, 0, a).ok());
  ASSERT_TRUE(Write(ino, c->handle, 3, "switch").ok());
  ASSERT_TRUE(Write(ino, c->handle, 0, "later").ok());
  faults().SetFault(S3Op::kCompleteMultipartUpload, {Status(Code::kServerError, "injected")});
  faults().SetFault(S3Op::kPutObject, {Status(Code::kServerError, "injected")});
  EXPECT_CODE(Flush(ino, c->handle), Code::kServerError);
  ASSERT_TRUE(Release(ino, c->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("g"), a);  // the switch's version, never half of the next
  EXPECT_EQ(mem().PendingUploads(), 0u);
}

// Ceph RGW 16 answers 412 to PutObject with the quoted ETag in If-Match (as S3 sends ETags)
// and accepts it bare. A commit whose HEAD finds the object unchanged tries the next form,
// and the mount keeps it; an object that did change is still never replaced.
class BareIfMatchStore : public ForwardingClient {
 public:
  using ForwardingClient::ForwardingClient;
  void PutObject(PutObjectParams p, Callback<PutObjectResult> done) override {
    if (!p.if_match.empty() && p.if_match.front() == '"') {
      refused++;
      return done(Status(Code::kPreconditionFailed, "refused the quoted form"));
    }
    if (!p.if_match.empty()) p.if_match = '"' + p.if_match + '"';
    inner()->PutObject(std::move(p), std::move(done));
  }
  std::atomic<int> refused{0};
};

TEST_P(StagedTest, AStoreThatRefusesQuotedIfMatchStillTakesChanges) {
  mem().Put("a", "1");
  mem().Put("b", "2");
  BareIfMatchStore store(faults_.get());
  FsOptions o;
  o.allow_overwrite = true;
  o.staging_dir = ::testing::TempDir();
  MountOver(&store, o);
  WriteAt("a", O_WRONLY | O_APPEND, 1, "+");
  EXPECT_EQ(*mem().Contents("a"), "1+");
  WriteAt("b", O_WRONLY | O_APPEND, 1, "+");
  EXPECT_EQ(*mem().Contents("b"), "2+");
  EXPECT_EQ(store.refused.load(), 1);  // the mount remembers the form that works
  InodeId ino = Ino("a");
  auto h = Open(ino, O_RDWR);
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(Write(ino, h->handle, 0, "x").ok());
  mem().Put("a", "theirs");
  EXPECT_CODE(Flush(ino, h->handle), Code::kPreconditionFailed);
  ASSERT_TRUE(Release(ino, h->handle).ok());
  fs().DrainUploads();
  EXPECT_EQ(*mem().Contents("a"), "theirs");
  Mount();  // the file system goes before `store`
}

TEST_P(StagedTest, ChangingObjectsNeedsAllowOverwrite) {
  mem().Put("f", "abc");
  Mount();
  InodeId ino = Ino("f");
  EXPECT_CODE(Open(ino, O_WRONLY | O_APPEND), Code::kPermission);
  EXPECT_CODE(Open(ino, O_WRONLY), Code::kPermission);
  auto r = Open(ino, O_RDWR);  // reading only, as in Mountpoint
  ASSERT_TRUE(r.ok());
  EXPECT_CODE(Write(ino, r->handle, 0, "x"), Code::kBadHandle);
  ASSERT_TRUE(Release(ino, r->handle).ok());
  EXPECT_EQ(*mem().Contents("f"), "abc");
}

// --incremental-upload: Mountpoint's appends, through staged writes; rename onto an existing
// file is still an overwrite only --allow-overwrite permits.
TEST_P(StagedTest, IncrementalUploadAppendsButDoesNotRenameOver) {
  mem().Put("f", "abc");
  mem().Put("g", "xyz");
  FsOptions o;
  o.incremental_upload = true;
  o.allow_delete = true;
  o.staging_dir = ::testing::TempDir();
  Mount(o);
  WriteAt("f", O_WRONLY | O_APPEND, 3, "def");
  EXPECT_EQ(*mem().Contents("f"), "abcdef");
  Ino("g");
  auto renamed =
      Wait<Empty>([&](auto cb) { fs().Rename(kRootInode, "f", kRootInode, "g", 0, cb); });
  EXPECT_CODE(renamed, Code::kPermission);
  EXPECT_EQ(*mem().Contents("g"), "xyz");
}

}  // namespace
}  // namespace s3m
