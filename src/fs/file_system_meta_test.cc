// Metadata policy tests (metadata_policy.h), each counting its requests: revalidation by
// HEAD after the TTL, the bulk refresh of a listed directory (and one LIST for concurrent
// lookups), the directory listing cache, the negative cache, and this mount's own changes
// known at once.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "fmt/format.h"
#include "fs/fs_test_fixture.h"
#include "s3/forwarding_client.h"

namespace s3m {
namespace {

class MetaTest : public FsTest {};
S3M_FS_TEST_SUITE(MetaTest);

constexpr auto kPastTtl = std::chrono::seconds(2);  // the default TTLs are 1 s

TEST_P(MetaTest, RevalidatesKnownFilesByHeadAndSeesANewEtag) {
  constexpr int kFiles = 20;
  for (int i = 0; i < kFiles; ++i) mem().Put(fmt::format("d/f{:02}", i), "abc");
  Mount();
  auto d = Lookup(kRootInode, "d");
  ASSERT_TRUE(d.ok());
  std::vector<InodeId> inos;
  for (int i = 0; i < kFiles; ++i) {
    auto e = Lookup(d->attr.ino, fmt::format("f{:02}", i));
    ASSERT_TRUE(e.ok());
    inos.push_back(e->attr.ino);
  }
  clock_.Advance(kPastTtl);
  mem().ResetCounts();
  for (int i = 0; i < kFiles; ++i) {
    auto e = Lookup(d->attr.ino, fmt::format("f{:02}", i));
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->attr.ino, inos[i]);  // the same ETag keeps the inode
    EXPECT_EQ(e->attr.size, 3u);
  }
  EXPECT_EQ(Count(S3Op::kHeadObject), uint64_t{kFiles});
  EXPECT_EQ(Count(S3Op::kListObjects), 0u);

  // Within the TTL again: no request.
  mem().ResetCounts();
  ASSERT_TRUE(Lookup(d->attr.ino, "f00").ok());
  ASSERT_TRUE(GetAttr(inos[0]).ok());
  EXPECT_EQ(mem().TotalRequests(), 0u);

  // A new version elsewhere: the HEAD brings its attributes.
  mem().Put("d/f00", "longer contents");
  clock_.Advance(kPastTtl);
  mem().ResetCounts();
  auto changed = Lookup(d->attr.ino, "f00");
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->attr.size, 15u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 1u);
  EXPECT_EQ(Count(S3Op::kListObjects), 0u);

  // getattr of an expired file is a HEAD too.
  mem().Put("d/f01", "12345");
  clock_.Advance(kPastTtl);
  mem().ResetCounts();
  auto a = GetAttr(inos[1]);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 5u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 1u);
  EXPECT_EQ(Count(S3Op::kListObjects), 0u);

  // Deleted elsewhere: the HEAD's 404 is settled by a LIST (a directory may have the name).
  mem().Remove("d/f02");
  clock_.Advance(kPastTtl);
  mem().ResetCounts();
  EXPECT_CODE(Lookup(d->attr.ino, "f02"), Code::kNotFound);
  EXPECT_EQ(Count(S3Op::kHeadObject), 1u);
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);
}

TEST_P(MetaTest, WalkingAListedDirectoryAfterTheTtlCostsOneListPerThousandNames) {
  constexpr int kFiles = 2500;
  for (int i = 0; i < kFiles; ++i) mem().Put(fmt::format("w/f{:05}", i), std::string(i % 5, 'x'));
  Mount();
  auto w = Lookup(kRootInode, "w");
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(ListAll(w->attr.ino, 500).size(), kFiles + 2u);
  clock_.Advance(kPastTtl);
  // Changed elsewhere meanwhile: one file gone, one new, one bigger.
  mem().Remove("w/f00100");
  mem().Put("w/f01000a", "new");
  mem().Put("w/f02000", "bigger now");
  mem().ResetCounts();
  for (int i = 0; i < kFiles; ++i) {
    std::string name = fmt::format("f{:05}", i);
    auto e = Lookup(w->attr.ino, name);
    if (i == 100) {
      EXPECT_CODE(e, Code::kNotFound);
      continue;
    }
    ASSERT_TRUE(e.ok()) << name;
    EXPECT_EQ(e->attr.size, i == 2000 ? 10u : uint64_t(i % 5)) << name;
  }
  // 2,500 names from offsets 0, ~1000, ~2000: three pages.
  EXPECT_LE(Count(S3Op::kListObjects), 3u);
  EXPECT_GE(Count(S3Op::kListObjects), 2u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 0u);
  // The new name was in a refreshed range: known without a request.
  mem().ResetCounts();
  auto added = Lookup(w->attr.ino, "f01000a");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->attr.size, 3u);
  EXPECT_EQ(mem().TotalRequests(), 0u);
}

// Without a negative TTL nothing may be taken as missing: no listing cache, no bulk
// refresh; known files are revalidated by HEAD.
TEST_P(MetaTest, WithoutANegativeTtlAListedDirectoryRevalidatesByHead) {
  for (int i = 0; i < 3; ++i) mem().Put(fmt::format("n/f{}", i), "1");
  FsOptions o;
  o.negative_metadata_ttl = std::chrono::nanoseconds::zero();
  Mount(o);
  auto n = Lookup(kRootInode, "n");
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(ListAll(n->attr.ino).size(), 5u);
  mem().ResetCounts();
  ASSERT_EQ(ListAll(n->attr.ino).size(), 5u);
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);  // listed again
  clock_.Advance(kPastTtl);
  mem().ResetCounts();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Lookup(n->attr.ino, fmt::format("f{}", i)).ok());
  EXPECT_EQ(Count(S3Op::kHeadObject), 3u);
  EXPECT_EQ(Count(S3Op::kListObjects), 0u);
}

// Holds LISTs until released, to make lookups meet one in flight.
class ListGate : public ForwardingClient {
 public:
  using ForwardingClient::ForwardingClient;
  void ListObjects(ListObjectsParams p, Callback<ListObjectsResult> done) override {
    std::lock_guard l(mu_);
    held_.push_back([this, p = std::move(p), done = std::move(done)]() mutable {
      ForwardingClient::ListObjects(std::move(p), std::move(done));
    });
    cv_.notify_all();
  }
  void ReleaseAll() {
    std::vector<std::function<void()>> go;
    {
      std::lock_guard l(mu_);
      go.swap(held_);
    }
    for (auto& fn : go) fn();
  }
  size_t held() {
    std::lock_guard l(mu_);
    return held_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::function<void()>> held_;
};

TEST_P(MetaTest, ConcurrentLookupsInAListedDirectoryShareOneRefresh) {
  constexpr int kFiles = 50;
  constexpr int kLookups = 8;
  for (int i = 0; i < kFiles; ++i) mem().Put(fmt::format("c/f{:02}", i), "1");
  ListGate gate(&faults());
  MountOver(&gate, {});
  auto lookup = [&](InodeId p, const std::string& n) {
    return Wait<Entry>([&](auto cb) {
      fs().Lookup(p, n, cb);
      gate.ReleaseAll();
    });
  };
  auto c = lookup(kRootInode, "c");
  ASSERT_TRUE(c.ok());
  InodeId ino = c->attr.ino;
  auto h = fs().OpenDir(ino);
  ASSERT_TRUE(h.ok());
  auto all = Wait<std::vector<DirEntry>>([&](auto cb) {
    fs().ReadDir(ino, *h, 0, 1000, cb);
    gate.ReleaseAll();
  });
  ASSERT_TRUE(all.ok());
  fs().ReleaseDir(ino, *h);
  clock_.Advance(kPastTtl);
  mem().ResetCounts();

  std::mutex mu;
  std::condition_variable cv;
  int answered = 0, found = 0;
  for (int i = 0; i < kLookups; ++i) {
    fs().Lookup(ino, fmt::format("f{:02}", 10 + i), [&](Result<Entry> r) {
      std::lock_guard l(mu);
      answered++;
      found += r.ok();
      cv.notify_all();
    });
  }
  EXPECT_EQ(gate.held(), 1u);  // one LIST for the eight lookups
  gate.ReleaseAll();
  std::unique_lock l(mu);
  cv.wait(l, [&] { return answered == kLookups; });
  EXPECT_EQ(found, kLookups);
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);
  EXPECT_EQ(Count(S3Op::kHeadObject), 0u);
}

TEST_P(MetaTest, ListsTwiceWithinTheTtlForOneListingAndKeepsTheNegativeCache) {
  for (const char* k : {"l/a", "l/b", "l/s/x"}) mem().Put(k, "1");
  Mount();
  auto l = Lookup(kRootInode, "l");
  ASSERT_TRUE(l.ok());
  InodeId ino = l->attr.ino;
  mem().ResetCounts();
  const std::vector<std::string> want{"./", "../", "a", "b", "s/"};
  EXPECT_EQ(Names(ino), want);
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);
  // Within the TTL: the same entries, no request, and missing names known missing.
  mem().Put("l/c", "made elsewhere");
  mem().ResetCounts();
  EXPECT_EQ(Names(ino), want);
  EXPECT_CODE(Lookup(ino, "zzz"), Code::kNotFound);
  EXPECT_EQ(mem().TotalRequests(), 0u);
  // After the TTL: a new listing, which sees the change.
  clock_.Advance(kPastTtl);
  mem().ResetCounts();
  EXPECT_EQ(Names(ino), (std::vector<std::string>{"./", "../", "a", "b", "c", "s/"}));
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);

  // The negative cache outside listed directories: one LIST, then none until it expires.
  mem().ResetCounts();
  EXPECT_CODE(Lookup(kRootInode, "missing"), Code::kNotFound);
  EXPECT_CODE(Lookup(kRootInode, "missing"), Code::kNotFound);
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);
  clock_.Advance(kPastTtl);
  mem().Put("missing", "now here");
  auto now_here = Lookup(kRootInode, "missing");
  ASSERT_TRUE(now_here.ok());
  EXPECT_EQ(now_here->attr.size, 8u);
}

TEST_P(MetaTest, OwnCreatesDeletesAndRenamesAreKnownWithoutARequest) {
  FsOptions o;
  o.allow_delete = true;
  o.allow_overwrite = true;
  Mount(o);
  mem().ResetCounts();
  auto d = Mkdir(kRootInode, "own");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Count(S3Op::kPutObject), 1u);
  EXPECT_EQ(Count(S3Op::kListObjects), 1u);  // is the name free?
  InodeId dir = d->attr.ino;

  // In the new directory: lookups of new names, the create, and the listing cost nothing
  // beyond the upload.
  mem().ResetCounts();
  EXPECT_CODE(Lookup(dir, "f"), Code::kNotFound);
  WriteFile(dir, "f", "hello");
  WriteFile(dir, "g", "world!");
  EXPECT_EQ(mem().TotalRequests(), 2u);
  EXPECT_EQ(Count(S3Op::kPutObject), 2u);
  mem().ResetCounts();
  auto f = Lookup(dir, "f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->attr.size, 5u);
  EXPECT_EQ(Names(dir), (std::vector<std::string>{"./", "../", "f", "g"}));
  EXPECT_EQ(mem().TotalRequests(), 0u);

  // Unlink: one DELETE, then the name is known gone.
  mem().ResetCounts();
  ASSERT_TRUE(Unlink(dir, "f").ok());
  EXPECT_CODE(Lookup(dir, "f"), Code::kNotFound);
  EXPECT_EQ(Names(dir), (std::vector<std::string>{"./", "../", "g"}));
  EXPECT_EQ(mem().TotalRequests(), 1u);
  EXPECT_EQ(Count(S3Op::kDeleteObject), 1u);

  // Rename: the old name is gone and the new one there, without asking.
  ASSERT_TRUE(Wait<Empty>([&](auto cb) { fs().Rename(dir, "g", dir, "h", 0, cb); }).ok());
  mem().ResetCounts();
  EXPECT_CODE(Lookup(dir, "g"), Code::kNotFound);
  auto h = Lookup(dir, "h");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->attr.size, 6u);
  EXPECT_EQ(Names(dir), (std::vector<std::string>{"./", "../", "h"}));
  EXPECT_EQ(mem().TotalRequests(), 0u);

  // rmdir: gone at once.
  ASSERT_TRUE(Mkdir(dir, "sub").ok());
  ASSERT_TRUE(Rmdir(dir, "sub").ok());
  mem().ResetCounts();
  EXPECT_CODE(Lookup(dir, "sub"), Code::kNotFound);
  EXPECT_EQ(mem().TotalRequests(), 0u);
}

// The shadowing rule under HEAD revalidation (docs/SEMANTICS.md, "Metadata cache"): a
// directory made elsewhere under a known file's name shows once the parent is listed.
TEST_P(MetaTest, ADirectoryMadeElsewhereUnderAKnownFileShowsAtTheNextListing) {
  mem().Put("s/x", "file");
  Mount();
  auto s = Lookup(kRootInode, "s");
  ASSERT_TRUE(s.ok());
  auto x = Lookup(s->attr.ino, "x");
  ASSERT_TRUE(x.ok());
  EXPECT_FALSE(x->attr.is_dir);
  mem().Put("s/x/y", "under it");
  clock_.Advance(kPastTtl);
  auto still = Lookup(s->attr.ino, "x");  // a HEAD: the object x is unchanged
  ASSERT_TRUE(still.ok());
  EXPECT_FALSE(still->attr.is_dir);
  EXPECT_EQ(Names(s->attr.ino), (std::vector<std::string>{"./", "../", "x/"}));
  auto now_dir = Lookup(s->attr.ino, "x");
  ASSERT_TRUE(now_dir.ok());
  EXPECT_TRUE(now_dir->attr.is_dir);
}

// A name that lets go of its inode (a file open for reading, opened for writing: ESTALE, and
// the kernel looks it up again) still exists: the listing cache must not answer ENOENT.
TEST_P(MetaTest, ANameThatMovesToANewInodeIsNotTakenAsMissing) {
  mem().Put("r/f", "12345");
  FsOptions o;
  o.allow_overwrite = true;
  Mount(o);
  auto r = Lookup(kRootInode, "r");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Names(r->attr.ino), (std::vector<std::string>{"./", "../", "f"}));
  auto f = Lookup(r->attr.ino, "f");
  ASSERT_TRUE(f.ok());
  auto reader = Open(f->attr.ino, O_RDONLY);
  ASSERT_TRUE(reader.ok());
  EXPECT_CODE(Open(f->attr.ino, O_WRONLY), Code::kStale);
  auto again = Lookup(r->attr.ino, "f");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->attr.ino, f->attr.ino);
  EXPECT_EQ(again->attr.size, 5u);
  ASSERT_TRUE(Release(f->attr.ino, reader->handle).ok());
}

}  // namespace
}  // namespace s3m
