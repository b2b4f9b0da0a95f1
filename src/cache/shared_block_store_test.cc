#include "cache/shared_block_store.h"

#include <gtest/gtest.h>

#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cache/block_trailer.h"
#include "cache/caching_client.h"
#include "cache/memory_block_files.h"
#include "cache/tiered_block_store.h"
#include "metrics/registry.h"
#include "s3/fault_injecting_client.h"
#include "s3/memory_object_client.h"

namespace s3m {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string Pattern(uint64_t n, char seed) {
  std::string s(n, 0);
  for (uint64_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 11 + i / 307);
  return s;
}

ObjectVersion Version(const std::string& key, const std::string& etag, uint64_t read_end = 0) {
  return ObjectVersion{key, etag, ObjectVersionId("http://s3 data-bucket", key, etag), read_end};
}

// The cache bucket in memory, behind a client that can fail on demand.
struct Fixture {
  Fixture() : faults(&bucket) {
    m = RegisterSharedCacheMetrics(&registry);
    store.emplace(&faults, "data-bucket", SharedStoreOptions{}, m);
  }
  std::optional<std::string> Get(const ObjectVersion& v, uint64_t index) {
    std::string out(kMiB, '\0');
    auto hit = store->Get(v, index, out.data());
    if (!hit) return std::nullopt;
    out.resize(hit->bytes);
    return out;
  }
  void Put(const ObjectVersion& v, const std::string& data, uint64_t object_size = 0) {
    store->Put(v, 0, object_size ? object_size : data.size(), data.data(), data.size());
  }
  metrics::Registry registry;
  CacheMetrics m;
  MemoryObjectClient bucket;
  FaultInjectingClient faults;
  std::optional<SharedBlockStore> store;
};

TEST(SharedBlockStoreTest, KeysFollowMountpointsLayout) {
  Fixture f;
  // Golden values (hashlib): the layout is shared by every node and must never drift.
  // PREFIX = sha256("S3MBLK01" + u64be(1 MiB) + "data-bucket")
  EXPECT_EQ(f.store->prefix(), "1402737b9bbd83c7edde3c48878d2a46ed6e7461595b10cd8e7faba933c42117");
  // OBJECT = sha256(key + ETag as sent), INDEX on 10 digits.
  EXPECT_EQ(f.store->BlockKey("dir/file.bin", "\"abc123\"", 0),
            f.store->prefix() +
                "/f3fe4ff8c59ec6af04f02e8d3ed0b48f22e8f0c080c759b3610a0f0e049e19cd/0000000000");
  // The mounted bucket is part of the prefix: two buckets never share blocks.
  SharedBlockStore other(&f.bucket, "other-bucket", {}, {});
  EXPECT_NE(other.prefix(), f.store->prefix());
}

TEST(SharedBlockStoreTest, ARoundTripServesTheSameBytes) {
  Fixture f;
  auto v = Version("a/small.txt", "\"e1\"");
  std::string body = Pattern(300'000, 1);
  EXPECT_EQ(f.Get(v, 0), std::nullopt);  // not there yet: a miss, not an error
  f.Put(v, body);
  const std::string key = f.store->BlockKey(v.key, v.etag, 0);
  ASSERT_TRUE(f.bucket.Contents(key).has_value());
  EXPECT_EQ(f.bucket.Contents(key)->size(), body.size() + kBlockTrailerBytes);
  EXPECT_EQ(f.Get(v, 0), body);
  std::string out(kMiB, '\0');
  EXPECT_EQ(f.store->Get(v, 0, out.data())->object_size, body.size());
  EXPECT_EQ(f.m.hits->Value(), 2u);
  EXPECT_EQ(f.m.misses->Value(), 1u);
  EXPECT_EQ(f.m.errors->Value(), 0u);
  EXPECT_EQ(f.m.written_bytes->Value(), body.size());
  // A whole 1 MiB object is one full block.
  auto whole = Version("b", "\"e2\"");
  std::string full = Pattern(kMiB, 2);
  f.Put(whole, full);
  EXPECT_EQ(f.Get(whole, 0), full);
}

TEST(SharedBlockStoreTest, AnotherVersionKeyOrBucketIsAMiss) {
  Fixture f;
  f.Put(Version("k", "\"e1\""), Pattern(1000, 3));
  EXPECT_EQ(f.Get(Version("k", "\"e2\""), 0), std::nullopt);  // the object changed
  EXPECT_EQ(f.Get(Version("k2", "\"e1\""), 0), std::nullopt);
  EXPECT_EQ(f.Get(Version("k", "\"e1\""), 1), std::nullopt);
  SharedBlockStore other(&f.bucket, "other-bucket", {}, {});
  std::string out(kMiB, '\0');
  EXPECT_FALSE(other.Get(Version("k", "\"e1\""), 0, out.data()).has_value());
  EXPECT_EQ(f.m.errors->Value(), 0u);
}

TEST(SharedBlockStoreTest, ADamagedObjectIsAMissNeverServed) {
  Fixture f;
  auto v = Version("d", "\"e\"");
  std::string body = Pattern(5000, 4);
  f.Put(v, body);
  const std::string key = f.store->BlockKey(v.key, v.etag, 0);
  std::string stored = *f.bucket.Contents(key);
  for (size_t at : {size_t{10}, body.size() + 20, stored.size() - 1}) {  // data, trailer, its CRC
    std::string bad = stored;
    bad[at] ^= 0x40;
    f.bucket.Put(key, bad);
    EXPECT_EQ(f.Get(v, 0), std::nullopt) << "byte " << at;
  }
  f.bucket.Put(key, stored.substr(0, stored.size() - 1));  // cut short
  EXPECT_EQ(f.Get(v, 0), std::nullopt);
  f.bucket.Put(key, body);  // no trailer at all (another program's block)
  EXPECT_EQ(f.Get(v, 0), std::nullopt);
  EXPECT_EQ(f.m.errors->Value(), 5u);
  EXPECT_EQ(f.m.hits->Value(), 0u);
  f.bucket.Put(key, stored);
  EXPECT_EQ(f.Get(v, 0), body);
}

TEST(SharedBlockStoreTest, ABlockCopiedUnderAnotherVersionsKeyIsAMiss) {
  Fixture f;
  auto v1 = Version("t", "\"e1\""), v2 = Version("t", "\"e2\"");
  f.Put(v1, Pattern(2000, 5));
  // Someone with write access puts v1's (valid) object where v2's block would be.
  f.bucket.Put(f.store->BlockKey(v2.key, v2.etag, 0),
               *f.bucket.Contents(f.store->BlockKey(v1.key, v1.etag, 0)));
  EXPECT_EQ(f.Get(v2, 0), std::nullopt);
  EXPECT_EQ(f.m.errors->Value(), 1u);
}

TEST(SharedBlockStoreTest, ObjectsOverTheLimitAreNeitherKeptNorLookedFor) {
  Fixture f;
  const size_t before = f.bucket.ObjectCount();
  auto big = Version("big", "\"e\"");
  std::string block = Pattern(kMiB, 6);
  f.Put(big, block, kMiB + 1);  // block 0 of a 1 MiB + 1 object
  f.store->Put(big, 1, kMiB + 1, "x", 1);
  EXPECT_EQ(f.bucket.ObjectCount(), before);
  f.bucket.ResetCounts();
  // A reader asking past 1 MiB proves the object is larger: no request at all.
  EXPECT_EQ(f.Get(Version("big", "\"e\"", kMiB + 128 * 1024), 0), std::nullopt);
  EXPECT_EQ(f.Get(Version("big", "\"e\""), 1), std::nullopt);
  EXPECT_EQ(f.bucket.Count(S3Op::kGetObject), 0u);
  EXPECT_EQ(f.m.misses->Value(), 0u);
}

TEST(SharedBlockStoreTest, AStoreErrorIsAMiss) {
  Fixture f;
  auto v = Version("e", "\"e\"");
  std::string body = Pattern(4000, 7);
  f.faults.SetFault(S3Op::kPutObject, {Status(Code::kInternal, "boom")});
  f.Put(v, body);  // not kept, and nothing thrown at the caller
  EXPECT_EQ(f.m.errors->Value(), 1u);
  EXPECT_EQ(f.m.written_bytes->Value(), 0u);
  f.faults.ClearFaults();
  f.Put(v, body);
  f.faults.SetFault(S3Op::kGetObject, {Status(Code::kInternal, "boom")});
  EXPECT_EQ(f.Get(v, 0), std::nullopt);
  EXPECT_EQ(f.m.errors->Value(), 2u);
  f.faults.ClearFaults();
  EXPECT_EQ(f.Get(v, 0), body);
}

TEST(SharedBlockStoreTest, TheProbeWritesTheMetadataObjectOrTellsTheError) {
  Fixture f;
  ASSERT_TRUE(f.store->Probe().ok());
  auto text = f.bucket.Contents(f.store->prefix() + "/_s3mount_cache_metadata");
  ASSERT_TRUE(text.has_value());
  EXPECT_NE(text->find("source_bucket=data-bucket"), std::string::npos);
  f.faults.SetFault(S3Op::kPutObject, {Status(Code::kNoSuchBucket, "NoSuchBucket")});
  EXPECT_EQ(f.store->Probe().code(), Code::kNoSuchBucket);
}

TEST(SharedBlockStoreTest, PutsInFlightFinishBeforeTheStoreGoes) {
  MemoryObjectClient bucket(MemoryObjectClient::Options{.async = true});
  auto v = Version("async", "\"e\"");
  {
    SharedBlockStore store(&bucket, "data-bucket", {}, {});
    for (int i = 0; i < 20; ++i) {
      std::string body = Pattern(10'000 + i, static_cast<char>(i));
      auto vi = Version("k" + std::to_string(i), "\"e\"");
      store.Put(vi, 0, body.size(), body.data(), body.size());
    }
  }
  EXPECT_EQ(bucket.ObjectCount(), 20u);
}

TEST(TieredBlockStoreTest, LocalFirstThenSharedWhichFillsLocal) {
  Fixture f;
  auto opened = BlockCache::Open(std::make_unique<MemoryBlockFiles>(), {}, {});
  auto& local = *opened;
  TieredBlockStore tiers(local.get(), &*f.store);
  auto v = Version("tier", "\"e\"");
  std::string body = Pattern(70'000, 8);
  f.Put(v, body);  // another node put it in the shared bucket
  std::string out(kMiB, '\0');
  auto hit = tiers.Get(v, 0, out.data());
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(out.substr(0, hit->bytes), body);
  EXPECT_EQ(local->blocks(), 1u);
  f.bucket.ResetCounts();
  ASSERT_TRUE(tiers.Get(v, 0, out.data()).has_value());
  EXPECT_EQ(f.bucket.Count(S3Op::kGetObject), 0u);  // served locally
  // New blocks go to both.
  auto w = Version("new", "\"e\"");
  tiers.Put(w, 0, body.size(), body.data(), body.size());
  EXPECT_EQ(local->blocks(), 2u);
  EXPECT_EQ(f.Get(w, 0), body);
}

// Two nodes: each its own CachingClient over the same data bucket, sharing a cache bucket.
TEST(SharedBlockStoreTest, ASecondNodeReadsASmallObjectWithoutTheDataBucket) {
  MemoryObjectClient data(MemoryObjectClient::Options{.async = true});
  MemoryObjectClient cache_bucket(MemoryObjectClient::Options{.async = true});
  std::string body = Pattern(200'000, 9);
  data.Put("s.bin", body);
  const std::string etag = data.Info("s.bin")->etag;
  auto read = [&](CachingClient& node) {
    std::string buf(body.size(), '\0');
    GetObjectParams p;
    p.key = "s.bin";
    p.length = body.size();
    p.if_match = etag;
    p.buffer = buf.data();
    auto r = Wait<GetObjectResult>([&](auto cb) { node.GetObject(std::move(p), cb); });
    EXPECT_TRUE(r.ok());
    return r.ok() ? buf.substr(0, r->bytes) : std::string();
  };
  {
    SharedBlockStore shared(&cache_bucket, "data-bucket", {}, {});
    CachingClient node1(&data, &shared, "http://s3 data-bucket", 2);
    EXPECT_EQ(read(node1), body);
  }  // node 1's PUT is done
  EXPECT_EQ(data.Count(S3Op::kGetObject), 1u);
  SharedBlockStore shared(&cache_bucket, "data-bucket", {}, {});
  CachingClient node2(&data, &shared, "http://s3 data-bucket", 2);
  EXPECT_EQ(read(node2), body);
  EXPECT_EQ(data.Count(S3Op::kGetObject), 1u);          // none more
  EXPECT_EQ(cache_bucket.Count(S3Op::kGetObject), 2u);  // node 1's miss, node 2's hit
}

}  // namespace
}  // namespace s3m

namespace s3m {
namespace {

// Records the ranges of the GETs that reach the mounted bucket.
class RangeRecorder : public ForwardingClient {
 public:
  using ForwardingClient::ForwardingClient;
  void GetObject(GetObjectParams p, Callback<GetObjectResult> done) override {
    {
      std::lock_guard l(mu_);
      ranges_.emplace_back(p.offset, p.length);
    }
    ForwardingClient::GetObject(std::move(p), std::move(done));
  }
  std::vector<std::pair<uint64_t, uint64_t>> Take() {
    std::lock_guard l(mu_);
    return std::exchange(ranges_, {});
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;
};

TEST(SharedBlockStoreTest, ReadsOfLargeObjectsPassByTheSharedCacheUntouched) {
  MemoryObjectClient data(MemoryObjectClient::Options{.async = true});
  MemoryObjectClient cache_bucket;
  RangeRecorder rec(&data);
  std::string body = Pattern(3 * kMiB, 10);
  data.Put("big", body);
  const std::string etag = data.Info("big")->etag;
  SharedBlockStore shared(&cache_bucket, "data-bucket", {}, {});
  CachingClient node(&rec, &shared, "http://s3 data-bucket", 2);
  auto read = [&](uint64_t offset, uint64_t length) {
    std::string buf(length, '\0');
    GetObjectParams p;
    p.key = "big";
    p.offset = offset;
    p.length = length;
    p.if_match = etag;
    p.buffer = buf.data();
    auto r = Wait<GetObjectResult>([&](auto cb) { node.GetObject(std::move(p), cb); });
    EXPECT_TRUE(r.ok());
    return buf;
  };
  // The reader's first request (1 MiB + 128 KiB) proves the object large: not widened.
  EXPECT_EQ(read(0, kMiB + 128 * 1024), body.substr(0, kMiB + 128 * 1024));
  EXPECT_EQ(read(2 * kMiB + 5, 4096), body.substr(2 * kMiB + 5, 4096));
  using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(rec.Take(), (Ranges{{0, kMiB + 128 * 1024}, {2 * kMiB + 5, 4096}}));
  EXPECT_EQ(cache_bucket.Count(S3Op::kGetObject), 0u);
  // A random read within the first MiB cannot tell: it asks the cache bucket (a miss),
  // fetches its block, and keeps nothing (the object is over the limit).
  EXPECT_EQ(read(4096, 4096), body.substr(4096, 4096));
  EXPECT_EQ(rec.Take(), (Ranges{{0, kMiB}}));
  EXPECT_EQ(cache_bucket.Count(S3Op::kGetObject), 1u);
  EXPECT_EQ(cache_bucket.Count(S3Op::kPutObject), 0u);
}

}  // namespace
}  // namespace s3m
