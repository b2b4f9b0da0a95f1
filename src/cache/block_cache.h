// BlockCache: fixed-size blocks of object versions on the local disk, bounded, least
// recently used evicted first (as CLOCK approximates it: see Line).
//
// A block is named by its object version (ObjectVersionId: a digest of the endpoint,
// bucket, key and ETag) and its index, so a block of an object whose ETag changed is never
// asked for again: it ages out. Each version's blocks live in one sparse file named by the
// digest: block i in a slot at i * (block_bytes + 4 KiB), its bytes followed, at the slot's
// last 4 KiB, by a trailer (the version digest, index, object size, length and CRC32C). A
// block whose trailer or data do not check out is a miss, and is freed. An evicted block's
// slot is punched out of the file; the file goes with its version's last block. One file
// per version, not per block: filling the cache allocates no inode per block, and a hit
// reads a file that is already open.
//
// Bound: with `max_bytes`, the blocks (each its length rounded up to 4 KiB, plus 4 KiB of
// trailer) never add up to more; without, the cache shrinks whenever its file system has
// less than `min_free_fraction` free. Blocks survive a remount: at Open the folder is
// scanned and the index rebuilt from the trailers, the files written last the last in line
// for eviction.
//
// Failures never reach readers: a write that fails (a full disk) is dropped, a read that
// fails is a miss. Both are counted. The trailer is block_trailer.h's.
//
// Blocks read at random lately are "hot" (up to `hot_blocks`, the most recently used, as
// CLOCK tells them): the CRC32C of each 4 KiB piece is kept in memory and their version's
// file kept open, so a 4 KiB random read of one costs one 4 KiB pread and a check of that
// piece. A block made hot by a random read's fill has its CRCs taken as it is written; any
// other (a stream's, or one kept from before a remount) is read and checked whole by its
// first range read. The
// index is keyed by the version's digest and the block index in binary: a lookup builds no
// string.
//
// Thread-safety: all methods, from any thread; disk I/O runs on the caller's thread
// outside the lock (mu_ guards only the index). A slot being written or punched, and a file
// being removed, are marked in the index meanwhile, so no other thread writes into them.
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
#include "cache/block_trailer.h"
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
  size_t hot_blocks = 256;  // blocks with piece CRCs in memory (and their version's file open)
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
  // Stores consecutive blocks from `first` (`bytes`: whole blocks, the last may be short) as
  // Put does each, with one write per run of adjacent slots: a stream's 8 MiB part costs one
  // open, one system call and one wait for the disk, not eight. Blocks there already, or
  // being stored, are left out. If any write fails, every block offered is dropped.
  void PutRun(const std::string& version, uint64_t first, uint64_t object_size, const char* data,
              uint64_t bytes, Reuse reuse);

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
  void PutRun(const ObjectVersion& v, uint64_t first, uint64_t object_size, const char* data,
              uint64_t bytes, Reuse reuse) override {
    PutRun(v.id, first, object_size, data, bytes, reuse);
  }
  using BlockStore::Put;

  uint64_t block_bytes() const override { return options_.block_bytes; }
  uint64_t used_bytes() const;  // the blocks' disk, as the bound counts it
  size_t blocks() const;
  size_t hot_blocks() const;  // blocks with piece CRCs in memory
  size_t open_files() const;  // versions' files held open for range reads

  // A version's digest: the 64 hex characters of ObjectVersionId, as 32 bytes.
  using Digest = std::array<uint64_t, 4>;
  // A block's identity.
  struct Key {
    Digest version{};
    uint64_t index = 0;
    bool operator==(const Key&) const = default;
  };

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      return k.version[0] ^ (k.index * 0x9E3779B97F4A7C15ull);  // the digest is uniform
    }
  };
  struct DigestHash {
    size_t operator()(const Digest& d) const noexcept { return d[0]; }
  };
  // Keys in the order they go, the next to go last, as CLOCK keeps them: a use only marks
  // the key's place (a splice to the front would cost a hit several cache misses, as much
  // as its 4 KiB read), and a marked key reaching the end goes back to the front unmarked
  // (a second chance) instead of going.
  struct Line {
    struct Place {
      std::list<Key>::iterator it;
      bool used = false;  // since it was put at the front
    };
    Place PushFront(const Key& k) {
      keys.push_front(k);
      return {keys.begin(), false};
    }
    static void Touch(Place& p) { p.used = true; }
    // Whether the last key, at `p`, is spared: moved to the front, unmarked.
    bool Spare(Place& p) {
      if (!p.used) return false;
      p.used = false;
      keys.splice(keys.begin(), keys, p.it);
      return true;
    }
    std::list<Key> keys;
  };
  // A version's file, while any of its blocks is in the index or being written.
  struct Version {
    size_t blocks = 0;                // in the index or being written
    size_t hot = 0;                   // of them, hot
    std::shared_ptr<BlockFile> file;  // open while any is hot, from its first range read
  };
  // What a range read of a hot block needs.
  struct Hot {
    std::vector<uint32_t> piece_crcs;  // CRC32C of each kCheckedPieceBytes of the data
    Line::Place lru;                   // in hot_lru_
  };
  struct Entry {
    uint64_t data_bytes = 0;  // checked against block_bytes when written or scanned
    Line::Place lru;
    uint64_t serial = 0;       // tells this block from one of the same key kept after it
    uint64_t object_size = 0;  // known once written or read whole in this mount
    Version* version = nullptr;  // in versions_ (its nodes do not move)
    std::unique_ptr<Hot> hot;  // null unless hot
  };
  using Index = std::unordered_map<Key, Entry, KeyHash>;
  // What blocks leaving the index leave to do on disk, outside the lock: files to let go
  // of, slots to punch, files to remove.
  struct Disposal {
    std::vector<std::shared_ptr<BlockFile>> closing;
    std::vector<Key> punch;
    std::vector<Digest> remove;
  };

  BlockCache(std::unique_ptr<BlockFiles> files, CacheOptions options, CacheMetrics metrics);
  void Load();
  // The blocks a version's file holds, as its trailers say; `invalid`: its other slots.
  std::vector<BlockTrailer> Scan(const StoredFile& f, const std::string& version,
                                 std::vector<uint64_t>* invalid);
  uint64_t SlotAt(uint64_t index) const { return index * slot_bytes_; }
  uint64_t TrailerAt(uint64_t index) const { return SlotAt(index) + padded_block_; }
  // A block offered to PutRun.
  struct Offered {
    uint64_t index;
    const char* data;
    uint64_t bytes;
  };
  // Chooses the blocks of [data, data + bytes) from block `base` to store: those not there
  // nor being stored, within the bound once room is made (the first ones go if not). Marks
  // them busy and counts them in. Requires mu_.
  std::vector<Offered> ReserveLocked(const Key& base, const char* data, uint64_t bytes,
                                     const std::optional<DiskSpace>& space, Disposal* d);
  // Writes `blocks` (marked busy) into `name`, one write per run of adjacent slots: whether
  // all of it was written.
  Status WriteBlocks(const std::string& name, const std::string& version, uint64_t object_size,
                     const std::vector<Offered>& blocks, Reuse reuse,
                     std::vector<std::vector<uint32_t>>* piece_crcs);
  // Takes the oldest blocks out of the index so that `incoming` more bytes fit under
  // max_bytes, or until `free_deficit` bytes are freed. Requires mu_.
  void MakeRoomLocked(uint64_t incoming, uint64_t free_deficit, uint64_t* freed,
                      Disposal* out);
  // Takes an entry out of the index. Requires mu_.
  void EraseLocked(Index::iterator it, Disposal* out);
  // A block of `key` is no longer in the index or being written: its slot is to be
  // punched, or its file removed if it was its version's last. Requires mu_.
  void ReleaseLocked(const Key& key, Disposal* out);
  // Does on disk what `d` says, outside the lock, then unmarks its slots and files.
  void Dispose(Disposal& d);
  // Reads block `key` (`data_bytes` long) and its trailer from `file` (opened if null).
  Result<std::optional<BlockTrailer>> ReadBlock(const Key& key, uint64_t data_bytes,
                                                std::shared_ptr<BlockFile> file, char* out);
  // Reads and checks a whole block; with `pieces`, takes its piece CRCs in the same pass.
  // `serial`: the block's, as read.
  std::optional<BlockHit> ReadWhole(const Key& key, const std::string& version, char* out,
                                    std::vector<uint32_t>* pieces, uint64_t* serial);
  // Makes a block hot with `crcs`. Requires mu_.
  void MakeHotLocked(Index::iterator it, std::vector<uint32_t> crcs, Disposal* out);
  // A hot block is hot no longer. Requires mu_.
  void CoolLocked(Entry& e, Disposal* out);
  // Removes block `serial` of `key` (not one kept after it); whether it was there.
  bool Forget(const Key& key, uint64_t serial);
  // A block that did not check out (`read`: how reading it ended): a miss, forgotten, and
  // counted as an error once, by whichever of the readers that found it forgets it.
  std::nullopt_t Damaged(const Key& key, uint64_t serial, const Status& read);
  // Keeps `file` open for the version's next range reads, if block `serial` of `key` is
  // still there and hot.
  void KeepOpen(const Key& key, uint64_t serial, std::shared_ptr<BlockFile> file);
  void SetUsedGauge();  // requires mu_

  const std::unique_ptr<BlockFiles> files_;
  const CacheOptions options_;
  const CacheMetrics metrics_;
  const uint64_t padded_block_;  // block_bytes rounded up to 4 KiB: where a trailer starts
  const uint64_t slot_bytes_;    // a block's and its trailer's room in its version's file
  mutable std::mutex mu_;
  Index index_;                       // GUARDED_BY(mu_)
  Line lru_;                          // GUARDED_BY(mu_)
  Line hot_lru_;                      // GUARDED_BY(mu_), hot entries
  std::unordered_map<Digest, Version, DigestHash> versions_;  // GUARDED_BY(mu_)
  std::unordered_set<Key, KeyHash> busy_;  // GUARDED_BY(mu_), slots being written or punched
  std::unordered_set<Digest, DigestHash> removing_;  // GUARDED_BY(mu_), files being removed
  uint64_t used_ = 0;                 // GUARDED_BY(mu_), with writes in progress
  uint64_t serials_ = 0;              // GUARDED_BY(mu_)
};

}  // namespace s3m
