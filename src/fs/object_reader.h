// ObjectReader: reads one version of one object (key, ETag, size fixed at open) for one
// open file handle, with a prefetcher for sequential streams.
//
// Every GET carries If-Match with the ETag seen at open, so a handle never mixes bytes of
// two versions: if the object changes, reads fail with kStale.
//
// Sequential reads: the first request is small (kFirstRequestBytes) to answer fast; then,
// while reads stay sequential, a window of parallel ranged GETs of read_part_size grows
// (doubling) up to max_window_bytes, bounded by the MemoryBudget (TryAcquire; when refused,
// the window stops growing). Small forward skips stay on the stream; a backward seek
// within buffered data is served from it; anything else restarts the stream. Random
// reads fetch only what they need (rounded up to a small alignment), not a whole part.
//
// Thread-safe: FUSE may issue several reads on one handle at once. `done` runs on the
// client's completion thread or inline; it must not block.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "memory/memory_budget.h"
#include "s3/object_client.h"

namespace s3m {

struct ReaderOptions {
  uint64_t read_part_size = 8 << 20;      // --read-part-size
  uint64_t max_window_bytes = 64 << 20;   // the most one stream prefetches ahead
};

// Data for one read reply: iovecs into buffers kept alive by `keep` until the reply has
// been sent (FUSE copies them to the kernel), so no extra copy is made.
struct ReadData {
  std::vector<iovec> iov;
  std::vector<std::shared_ptr<Buffer>> keep;
  uint64_t size = 0;
};

class ObjectReader {
 public:
  ObjectReader(ObjectClient* client, BufferPool* pool, ReaderOptions options, std::string key,
               std::string etag, uint64_t object_size);
  ~ObjectReader();  // cancels nothing in flight: outstanding GETs hold their own references

  // Reads [offset, offset + size), clipped to the object size (an empty result at or past
  // the end).
  void Read(uint64_t offset, uint64_t size, std::function<void(Result<ReadData>)> done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with in-flight completions
};

}  // namespace s3m
