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
// Blocks read at random lately are "hot" (up to `hot_blocks`, the most recently used): the
// CRC32C of each 4 KiB piece is kept in memory and the file kept open, so a 4 KiB random
// read of one costs one 4 KiB pread and a check of that piece. A block made hot by a random
// read's fill has its CRCs taken as it is written; any other (a stream's, or one kept from
// before a remount) is read and checked whole by its first range read. The index is keyed
// by the version's digest and the block index in binary: a lookup builds no string.
//
// Thread-safety: all methods, from any thread; disk I/O runs on the caller's thread
// outside the lock (mu_ guards only the index).
#pragma once

#include <array>
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
  size_t hot_blocks = 256;  // blocks with piece CRCs in memory and their file open
};

// The unit a range read checks: a 4 KiB random read reads 4 KiB. The CRCs of a hot block
// take 1 KiB of memory (256 of a 1 MiB block).
inline constexpr uint64_t kCheckedPieceBytes = 4 << 10;

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
  // Returns at once if another thread is storing the same block. A block reused later is
  // written past the page cache (PageCache::kBypass).
  void Put(const std::string& version, uint64_t index, uint64_t object_size, const char* data,
           uint64_t bytes, Reuse reuse = Reuse::kSoon);

  // The BlockStore methods: the same, for the version's id.
  std::optional<BlockHit> Get(const ObjectVersion& v, uint64_t index, char* out) override {
    return Get(v.id, index, out);
  }
  // Reads only the 4 KiB pieces of a hot block that hold the range, each checked against
  // the CRC32C kept of it; a block that is not hot is read and checked whole, and made hot.
  std::optional<BlockHit> GetRange(const ObjectVersion& v, uint64_t index, uint64_t from,
                                   uint64_t to, char* out) override;
  void Put(const ObjectVersion& v, uint64_t index, uint64_t object_size, const char* data,
           uint64_t bytes, Reuse reuse) override {
    Put(v.id, index, object_size, data, bytes, reuse);
  }
  using BlockStore::Put;

  uint64_t block_bytes() const override { return options_.block_bytes; }
  uint64_t used_bytes() const;  // the files' sizes, rounded to 4 KiB each
  size_t blocks() const;
  size_t hot_blocks() const;  // blocks with piece CRCs in memory
  size_t open_files() const;  // block files held open for range reads

  // A block's identity: its version's digest (the 64 hex characters of ObjectVersionId, as
  // 32 bytes) and its index.
  struct Key {
    std::array<uint64_t, 4> version{};
    uint64_t index = 0;
    bool operator==(const Key&) const = default;
  };

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      return k.version[0] ^ (k.index * 0x9E3779B97F4A7C15ull);  // the digest is uniform
    }
  };
  // What a range read of a hot block needs.
  struct Hot {
    std::vector<uint32_t> piece_crcs;  // CRC32C of each kCheckedPieceBytes of the data
    std::shared_ptr<BlockFile> file;   // open since its first range read, or null
    std::list<Key>::iterator lru;      // in hot_lru_
  };
  struct Entry {
    uint64_t data_bytes = 0;
    uint64_t disk_bytes = 0;
    std::list<Key>::iterator lru;
    uint64_t serial = 0;       // tells this block from one of the same key kept after it
    uint64_t object_size = 0;  // known once written or read whole in this mount
    std::unique_ptr<Hot> hot;  // null unless hot
  };
  using Index = std::unordered_map<Key, Entry, KeyHash>;

  BlockCache(std::unique_ptr<BlockFiles> files, CacheOptions options, CacheMetrics metrics);
  void Load();
  // Takes the oldest blocks out of the index so that `incoming` more bytes fit under
  // max_bytes, or until `free_deficit` bytes are freed; the caller removes their files
  // (and lets go of `closing` outside the lock). Requires mu_.
  std::vector<Key> MakeRoomLocked(uint64_t incoming, uint64_t free_deficit, uint64_t* freed,
                                  std::vector<std::shared_ptr<BlockFile>>* closing);
  // Takes an entry out of the index; returns its open file, to let go of outside the lock.
  std::shared_ptr<BlockFile> EraseLocked(Index::iterator it);
  // Reads and checks a whole block; with `pieces`, takes its piece CRCs in the same pass.
  // `serial`: the block's, as read.
  std::optional<BlockHit> ReadWhole(const Key& key, const std::string& version, char* out,
                                    std::vector<uint32_t>* pieces, uint64_t* serial);
  // Makes a block hot with `crcs`; returns the file of the block that stopped being hot to
  // make room, to let go of outside the lock.
  std::shared_ptr<BlockFile> MakeHotLocked(Index::iterator it, std::vector<uint32_t> crcs);
  // Removes block `serial` of `key` (not one kept after it); whether it was there.
  bool Forget(const Key& key, uint64_t serial);
  // A block that did not check out (`read`: how reading it ended): a miss, forgotten, and
  // counted as an error once, by whichever of the readers that found it forgets it.
  std::nullopt_t Damaged(const Key& key, uint64_t serial, const Status& read);
  // Keeps `file` open for the block's next range reads, if it is still the block `serial`
  // and hot.
  void KeepOpen(const Key& key, uint64_t serial, std::shared_ptr<BlockFile> file);
  void SetUsedGauge();  // requires mu_

  const std::unique_ptr<BlockFiles> files_;
  const CacheOptions options_;
  const CacheMetrics metrics_;
  mutable std::mutex mu_;
  Index index_;                       // GUARDED_BY(mu_)
  std::list<Key> lru_;                // GUARDED_BY(mu_), most recent first
  std::list<Key> hot_lru_;            // GUARDED_BY(mu_), hot entries, most recent first
  std::unordered_set<Key, KeyHash> writing_;  // GUARDED_BY(mu_)
  uint64_t used_ = 0;                 // GUARDED_BY(mu_), with writes in progress
  uint64_t serials_ = 0;              // GUARDED_BY(mu_)
};

}  // namespace s3m
