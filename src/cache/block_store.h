// BlockStore: where the data cache keeps fixed-size blocks of object versions. The
// CachingClient asks one store; the local disk (BlockCache), the shared bucket
// (SharedBlockStore) and the two together (TieredBlockStore) are the implementations.
//
// A store never fails a reader: anything that goes wrong (a damaged block, a full disk, a
// store that does not answer) is a miss on Get and a block not kept on Put.
//
// Thread-safety: implementations take calls from any thread at once. Get may block the
// caller (disk or network I/O); it is called on the CachingClient's workers, or on a FUSE
// worker that may wait on the disk (common/disk_wait.h), never on an S3 client's event loop.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace s3m {

// Mountpoint's block size, local and shared: a random read fetches one, which 4 KiB
// neighbours then hit.
inline constexpr uint64_t kCacheBlockBytes = 1 << 20;

// Hex SHA-256 of a version's identity (64 characters): the store (`source`), key and ETag,
// with the ETag's quotes dropped (S3 and some other stores differ in sending them).
std::string ObjectVersionId(const std::string& source, const std::string& key,
                            const std::string& etag);

// The version a block belongs to.
struct ObjectVersion {
  std::string key;
  std::string etag;  // as the server sent it
  std::string id;    // ObjectVersionId(source, key, etag): names local blocks
  // The end of the range a reader asked for. Readers ask only within the object (the
  // ObjectReader clamps every GET to the size), so the object is at least this long: a
  // store that keeps only small objects need not look for a block of a larger one.
  uint64_t read_end = 0;
};

// When a block offered to a store is likely read again. A random read's block is read
// soon (its neighbours follow), so it is kept where reads are fastest; a stream's block
// later, if at all (its reader has moved on, and the kernel keeps the file's own pages), so
// the local disk writes it past the page cache, which costs the stream far less CPU.
enum class Reuse { kSoon, kLater };

struct BlockHit {
  uint64_t bytes = 0;        // the block's length (short only for an object's last block)
  uint64_t object_size = 0;  // the size of the version it belongs to
};

class BlockStore {
 public:
  virtual ~BlockStore() = default;
  // Reads block `index` of `v` into `out` (block_bytes() of room). nullopt: a miss.
  virtual std::optional<BlockHit> Get(const ObjectVersion& v, uint64_t index, char* out) = 0;
  // Reads bytes [from, to) of block `index` into `out` (to - from of room; fewer come when
  // the block ends first). This default reads the whole block into a buffer of the thread's.
  virtual std::optional<BlockHit> GetRange(const ObjectVersion& v, uint64_t index, uint64_t from,
                                           uint64_t to, char* out);
  // Offers a block to keep: `bytes` long (block_bytes(), or less for the object's last
  // block). The store may keep it, or not; `data` is not used after the call returns.
  virtual void Put(const ObjectVersion& v, uint64_t index, uint64_t object_size, const char* data,
                   uint64_t bytes, Reuse reuse) = 0;
  void Put(const ObjectVersion& v, uint64_t index, uint64_t object_size, const char* data,
           uint64_t bytes) {
    Put(v, index, object_size, data, bytes, Reuse::kSoon);
  }
  // Offers consecutive blocks from `first`: `bytes` of `data`, whole blocks but for the
  // object's last. This default offers each with Put; the local disk writes a run at once.
  virtual void PutRun(const ObjectVersion& v, uint64_t first, uint64_t object_size,
                      const char* data, uint64_t bytes, Reuse reuse);
  virtual uint64_t block_bytes() const = 0;
  // Whether the store may keep blocks of `v` at all; when not, its reads pass by the cache
  // untouched (not widened to blocks, no worker hop). Stores that keep every object say yes.
  virtual bool Wants(const ObjectVersion& v) const {
    (void)v;
    return true;
  }
};

}  // namespace s3m
