// ObjectReader: reads one version of one object (key, ETag, size fixed at open) for one
// open file handle, with a prefetcher for sequential streams.
//
// Every GET carries If-Match with the ETag seen at open, so a handle never mixes bytes of
// two versions: if the object changes, reads fail with kStale.
//
// Sequential reads: the first request is small (kFirstRequestBytes) to answer fast; then,
// while reads stay sequential, a window of parallel ranged GETs grows (doubling) up to
// max_window_bytes, bounded by the MemoryBudget (TryAcquire; when refused, the window stops
// growing). After the first request, GETs end on multiples of read_part_size, so each
// covers one part of an object uploaded with that part size (AWS's advice for ranged
// GETs). The window grows only while it pays: it is judged once per "epoch" (the reader
// consuming a window's worth of bytes, at least 4 parts): it doubles when a read had to
// wait for data, and a doubling is undone when, once the added GETs are under way, it did
// not raise throughput by kWindowGain (the server or the link is the limit, so more GETs
// in flight would only hold memory and page-fault fresh buffers). Throughput is estimated
// from the GETs themselves (GETs in flight / a GET's duration), which bursts of arrivals
// do not distort; doubling is tried again kWindowProbeEpochs epochs later, as other
// streams come and go.
// A handle's first read, if readahead-sized (kReadaheadBytes) and within the first part,
// starts the stream at 0: it is most often a readahead request that overtook the read at 0.
// Small forward skips stay on the stream (fetched through); a backward seek within
// buffered data is served from it; anything else restarts the stream. A part is kept until
// all of it was read, for reads that arrive late (see kReorderBytes). Random reads fetch
// only what they need (rounded up to a small alignment), not a whole part. With a data
// cache (ask_cache_first), a read that would start a random stream is first offered to
// ObjectClient::GetNow: a hit is answered from a buffer of its own, with no chunk or GET.
//
// Reads never wait for memory: when the budget refuses even the one buffer a read needs,
// that read's own range is fetched into a buffer from BufferPool::TakeForced (see
// memory_budget.h), so a stream that holds memory can never deadlock another.
//
// Reads are answered with iovecs into the part buffers GETs write into (ReadData.keep
// holds them), so the daemon copies a byte twice: libcurl's receive buffer into the part
// buffer (user space), and the part buffer into the kernel's reply pages (FUSE). The
// socket's copy into libcurl's buffer is the kernel's (docs/ARCHITECTURE.md counts them).
//
// Thread-safe: FUSE may issue several reads on one handle at once, possibly slightly out
// of order; reordering within the buffered range or the window does not break sequential
// detection. `done` runs on the calling thread (data already here), or on the client's
// completion thread; it must not block. Lock order: Impl::mu_ is a leaf, never held across
// a client call or `done`.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "memory/memory_budget.h"
#include "s3/object_client.h"

namespace s3m {
namespace metrics {
class Gauge;
}

// The first GET of a sequential stream: the kernel's first read (128 KiB) plus its first
// readahead window (1 MiB with FUSE's default max_readahead), so the first read returns
// after one small request instead of waiting for a whole part. Mountpoint uses the same.
inline constexpr uint64_t kFirstRequestBytes = (1 << 20) + (128 << 10);
// Random reads fetch their range rounded out to this. S3's cost is the request latency
// (~10 ms to first byte); 64 KiB more takes ~0.05 ms at 10 Gb/s, so the rounding is
// free, and reads of neighbouring records (the common case after a random read) are
// then served from the retained buffer. 16 pages, a multiple of every page size.
inline constexpr uint64_t kRandomReadAlignment = 64 << 10;
// The kernel's smallest readahead request (its initial window for a 4 KiB read): a first
// read this large near the start of a file is taken for readahead, smaller ones for random.
inline constexpr uint64_t kReadaheadBytes = 128 << 10;
// Data kept behind the furthest read for backward seeks: 1 MiB, one maximal FUSE read
// (max_pages 256 x 4 KiB), like Mountpoint's backward seek window.
inline constexpr uint64_t kBackwardSeekBytes = 1 << 20;
// A part not yet wholly read is kept until the stream is this far past it (or the window,
// if larger): readahead requests arrive out of order by up to a few readahead windows
// (4 MiB each) when many files are read at once.
inline constexpr uint64_t kReorderBytes = 16 << 20;

// A doubled window must raise the stream's throughput by this factor to be kept: enough
// to stand above the noise of a shared server (rates of equal epochs vary by ~10%), small
// enough that a doubling that helps (nearly 2x while per-connection bandwidth is the
// limit) is never mistaken for one that does not.
inline constexpr double kWindowGain = 1.2;
// Epochs at a window that stopped growing before the next doubling is tried.
inline constexpr int kWindowProbeEpochs = 8;

struct ReaderOptions {
  uint64_t read_part_size = 8 << 20;                  // --read-part-size
  uint64_t max_window_bytes = 64 << 20;               // the most one stream prefetches ahead
  uint64_t first_request_bytes = kFirstRequestBytes;  // tests make it smaller
  // Random reads are rounded out to this. With a local data cache (--cache) a miss fetches a
  // whole block anyway, so the mount asks for 4 KiB: a hit then reads only what it needs.
  uint64_t random_read_alignment = kRandomReadAlignment;
  // A data cache may answer a random read at once (ObjectClient::GetNow): asked first.
  bool ask_cache_first = false;
  const Clock* clock = RealClock::Get();              // times the epochs; not owned
  // Kept at the sum of the open readers' windows (s3mount_prefetch_window_bytes); not
  // owned, null counts nothing.
  metrics::Gauge* window_gauge = nullptr;
};

// Data for one read reply: iovecs into buffers kept alive by `keep` until the reply has
// been sent (FUSE copies them to the kernel), so no extra copy is made. A buffer is a
// part buffer, or bytes the client lent (GetObjectParams::accept_lent).
struct ReadData {
  std::vector<iovec> iov;
  std::vector<std::shared_ptr<const void>> keep;
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

  // Reads from now on come from `key` at `etag`: a copy of the same bytes (a rename).
  void Retarget(std::string key, std::string etag);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with in-flight completions
};

}  // namespace s3m
