// SharedBlockStore: the --cache-xz cache. Blocks of small objects kept as objects of a
// second bucket, which the nodes of a cluster share: what one node fetched from the
// mounted bucket, the others read from the cache bucket (Mountpoint's shared cache).
//
// Keys, as Mountpoint's (docs/CONFIGURATION.md, "Shared cache"):
//   PREFIX/OBJECT/INDEX
//   PREFIX = hex SHA-256 of (format name, block size as 8 big-endian bytes, source bucket)
//   OBJECT = hex SHA-256 of (the object's key, its ETag as the server sent it)
//   INDEX  = the block's index, 10 decimal digits ("0000000000")
// The format name is block_trailer.h's, where Mountpoint hashes its own ("V2"): the two
// formats differ, so they live under different prefixes of one bucket and never read each
// other's blocks. A cache object is the block's bytes and a BlockTrailer naming the source
// bucket, key, ETag, index and object size, with CRC32Cs; a block whose trailer does not
// check out is a miss, never served. At start-up PREFIX/_s3mount_cache_metadata is written
// (what the prefix stands for, for people), which proves the bucket takes writes.
//
// Only objects up to max_object_bytes (Mountpoint's 1 MiB) are kept, so every cached
// object is one block. Nothing is ever deleted: the bucket's lifecycle rules expire blocks.
//
// Threads: Get waits for a GET of the cache bucket on the caller's thread (the
// CachingClient's workers). Put copies the block and returns at once: its PUT completes on
// the cache client's thread, and a block offered while too many PUTs are in flight is not
// kept. The destructor waits for the PUTs in flight, so the cache client must outlive it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "cache/block_cache.h"
#include "cache/block_store.h"
#include "common/status.h"
#include "s3/object_client.h"

namespace s3m {

// Mountpoint's limit: objects over 1 MiB are not kept in (or looked for in) the shared
// cache. Small objects gain most from a shared copy: their cost is the request, not bytes.
inline constexpr uint64_t kSharedCacheMaxObjectBytes = 1 << 20;

struct SharedStoreOptions {
  uint64_t block_bytes = kCacheBlockBytes;
  uint64_t max_object_bytes = kSharedCacheMaxObjectBytes;
  // PUTs in flight at once (blocks copied and waiting): 64 MiB at most with 1 MiB blocks.
  int max_puts_in_flight = 64;
};

// The s3mount_shared_cache_* series (hits, misses, hit and written bytes, errors).
CacheMetrics RegisterSharedCacheMetrics(metrics::Registry* registry);

class SharedBlockStore : public BlockStore {
 public:
  // `client` talks to the cache bucket; `source_bucket` is the mounted bucket's name.
  SharedBlockStore(ObjectClient* client, std::string source_bucket, SharedStoreOptions options,
                   CacheMetrics metrics);
  ~SharedBlockStore() override;

  // Writes PREFIX/_s3mount_cache_metadata: ok, or the cache bucket's error.
  Status Probe();

  std::optional<BlockHit> Get(const ObjectVersion& v, uint64_t index, char* out) override;
  using BlockStore::Put;
  // Every block alike: `reuse` concerns a node's memory, not the bucket.
  void Put(const ObjectVersion& v, uint64_t index, uint64_t object_size, const char* data,
           uint64_t bytes, Reuse reuse) override;
  uint64_t block_bytes() const override { return options_.block_bytes; }
  // Not when the read reaches past max_object_bytes: the object is larger.
  bool Wants(const ObjectVersion& v) const override {
    return v.read_end <= options_.max_object_bytes;
  }

  // The key of block `index` of `key` at `etag` in the cache bucket.
  std::string BlockKey(const std::string& key, const std::string& etag, uint64_t index) const;
  const std::string& prefix() const { return prefix_; }

 private:
  bool Kept(const ObjectVersion& v, uint64_t index) const;  // of a size the store keeps
  void PutDone(const Status& s, uint64_t bytes);
  void Failed(const char* what, const Status& s);  // counted; logged once as a warning

  ObjectClient* const client_;
  const std::string source_bucket_;
  const SharedStoreOptions options_;
  const CacheMetrics metrics_;
  const std::string prefix_;
  std::mutex mu_;
  std::condition_variable idle_;
  int puts_in_flight_ = 0;  // GUARDED_BY(mu_)
  std::atomic<bool> warned_{false};
};

}  // namespace s3m
