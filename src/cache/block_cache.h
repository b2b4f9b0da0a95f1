// BlockCache: fixed-size blocks of object versions on the local disk, bounded, least
// recently used evicted first.
//
// A block is named by its object version (ObjectVersionId: a digest of the endpoint,
// bucket, key and ETag) and its index, so a block of an object whose ETag changed is never
// asked for again: it ages out. Each file is the block's bytes followed by a trailer (the
// version digest, index, object size, lengths and CRC32Cs); a file whose trailer or data do
// not check out is a miss, and is removed.
//
// Bound: with `max_bytes`, the files (each rounded up to 4 KiB) never add up to more;
// without, the cache shrinks whenever its file system has less than `min_free_fraction`
// free. Blocks survive a remount: at Open the folder is scanned and the index rebuilt,
// oldest written first in line for eviction.
//
// Failures never reach readers: a write that fails (a full disk) is dropped, a read that
// fails is a miss. Both are counted. The trailer is block_trailer.h's.
//
// Thread-safety: all methods, from any thread; disk I/O runs on the caller's thread
// outside the lock (mu_ guards only the index).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache/block_files.h"
#include "cache/block_store.h"
#include "common/status.h"

namespace s3m {
namespace metrics {
class Counter;
class Gauge;
class Registry;
}  // namespace metrics

struct CacheOptions {
  uint64_t max_bytes = 0;           // 0: keep min_free_fraction of the file system free
  double min_free_fraction = 0.05;  // Mountpoint's default
  uint64_t block_bytes = kCacheBlockBytes;
};

// The unit a range read checks: small enough that a 4 KiB read reads little, large enough
// that the CRCs kept in memory stay small (64 per 1 MiB block, 256 bytes).
inline constexpr uint64_t kCheckedPieceBytes = 16 << 10;

// Optional series (null: not counted).
struct CacheMetrics {
  metrics::Counter* hits = nullptr;        // blocks served
  metrics::Counter* misses = nullptr;      // blocks asked for and not there (or damaged)
  metrics::Counter* hit_bytes = nullptr;
  metrics::Counter* written_bytes = nullptr;
  metrics::Counter* evictions = nullptr;  // blocks removed to make room
  metrics::Counter* errors = nullptr;     // writes that failed, damaged blocks found
  metrics::Gauge* used_bytes = nullptr;
};

// The s3mount_cache_* series, registered in `registry`.
CacheMetrics RegisterCacheMetrics(metrics::Registry* registry);

class BlockCache : public BlockStore {
 public:
  static Result<std::unique_ptr<BlockCache>> Open(std::unique_ptr<BlockFiles> files,
                                                  CacheOptions options, CacheMetrics metrics);
  ~BlockCache() override;

  // Reads block `index` of `version` into `out` (block_bytes() of room). nullopt: a miss.
  std::optional<BlockHit> Get(const std::string& version, uint64_t index, char* out);
  // Stores a block: `bytes` long (block_bytes(), or less for the object's last block).
  // Returns at once if another thread is storing the same block.
  void Put(const std::string& version, uint64_t index, uint64_t object_size, const char* data,
           uint64_t bytes);

  // The BlockStore methods: the same, for the version's id.
  std::optional<BlockHit> Get(const ObjectVersion& v, uint64_t index, char* out) override {
    return Get(v.id, index, out);
  }
  // Reads only the 16 KiB pieces of the block that hold the range, each checked against
  // the CRC32C taken of it when the block was written or first read whole in this mount
  // (a 4 KiB random read then costs a 64 KiB read, not 1 MiB); else reads it whole.
  std::optional<BlockHit> GetRange(const ObjectVersion& v, uint64_t index, uint64_t from,
                                   uint64_t to, char* out) override;
  void Put(const ObjectVersion& v, uint64_t index, uint64_t object_size, const char* data,
           uint64_t bytes) override {
    Put(v.id, index, object_size, data, bytes);
  }

  uint64_t block_bytes() const override { return options_.block_bytes; }
  uint64_t used_bytes() const;  // the files' sizes, rounded to 4 KiB each
  size_t blocks() const;

 private:
  struct Entry {
    uint64_t data_bytes = 0;
    uint64_t disk_bytes = 0;
    std::list<std::string>::iterator lru;
    // Known once the block was written or read whole in this mount (64 bytes a block).
    uint64_t object_size = 0;
    std::vector<uint32_t> piece_crcs;  // CRC32C of each kCheckedPieceBytes of the data
  };
  BlockCache(std::unique_ptr<BlockFiles> files, CacheOptions options, CacheMetrics metrics);
  void Load();
  // Takes the oldest blocks out of the index so that `incoming` more bytes fit under
  // max_bytes, or until `free_deficit` bytes are freed; the caller removes their files.
  // Requires mu_.
  std::vector<std::string> MakeRoomLocked(uint64_t incoming, uint64_t free_deficit,
                                          uint64_t* freed);
  void Forget(const std::string& name);
  // A block that did not check out (`read`: how reading it ended): counted, forgotten, a miss.
  std::nullopt_t Damaged(const std::string& name, const Status& read);
  // Keeps the object size and piece CRCs of a block just read whole or written.
  void Remember(const std::string& name, uint64_t object_size, const char* data, uint64_t bytes);
  void SetUsedGauge();  // requires mu_

  const std::unique_ptr<BlockFiles> files_;
  const CacheOptions options_;
  const CacheMetrics metrics_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> index_;  // GUARDED_BY(mu_), by file name
  std::list<std::string> lru_;                     // GUARDED_BY(mu_), most recent first
  std::unordered_set<std::string> writing_;        // GUARDED_BY(mu_)
  uint64_t used_ = 0;                              // GUARDED_BY(mu_), with writes in progress
};

}  // namespace s3m
