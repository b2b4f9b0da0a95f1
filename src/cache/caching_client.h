// CachingClient: an ObjectClient whose GETs of a known version (If-Match set) are served
// from a BlockStore (block_store.h: the --cache directory, the --cache-xz bucket, or both)
// when it holds the blocks, and fill it when it does not. Every other operation passes
// through, and so do GETs the store does not want (BlockStore::Wants: a large object with
// only the shared cache).
//
// A GET is answered from the cache for its leading blocks that are there; the rest is one
// GET, widened to whole blocks so that every byte fetched can be kept (a 4 KiB random read
// fetches its 1 MiB block, which its neighbours then hit). Sequential readers keep their
// parts and progress: a part that is block-aligned is fetched straight into the reader's
// buffer, and its blocks are written behind the reader: it is told the part is complete
// first, and writer threads keep the blocks while holding the reader's buffer
// (GetObjectParams::buffer_owner), one write per part. A longer read that is not
// block-aligned (a stream that began off the block grid) is widened like a random read,
// and its widened buffer written behind the same way. The buffers so held are bounded
// (max_backlog_bytes); a part past the bound is not kept, so a disk slower than the stream
// never slows it down. A random read's block is kept before its reader is told.
//
// Threads: the store's reads and writes run on the client's WorkerPools (or a random-read
// hit on a FUSE worker, see GetObject and GetNow), never on the inner client's callback
// thread; `done` runs on a worker. Widened GETs use a buffer of their own, outside the
// memory budget: at most the request plus two blocks, held by a writer within the backlog.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "cache/block_store.h"
#include "cache/worker_pool.h"
#include "s3/forwarding_client.h"

namespace s3m {
namespace metrics {
class Counter;
}

struct CachingOptions {
  uint64_t max_backlog_bytes = 64 << 20;      // streamed bytes waiting to be written
  int writers = 2;                            // threads writing streamed blocks
  metrics::Counter* skipped_bytes = nullptr;  // streamed bytes not kept: the writers were behind
};

class CachingClient : public ForwardingClient {
 public:
  // `source` names the S3 store and bucket (blocks of two stores never mix). `store` must
  // outlive this client.
  CachingClient(ObjectClient* inner, BlockStore* store, std::string source, int threads = 4,
                CachingOptions options = {});
  ~CachingClient() override;  // waits for the disk work queued

  void GetObject(GetObjectParams p, Callback<GetObjectResult> done) override;
  // A read within one block, from the store, on the calling thread.
  std::optional<uint64_t> GetNow(const GetNowParams& p) override;
  // Returns once the blocks of the parts answered so far are written (or dropped).
  void WaitForWrites();

 private:
  struct Get;
  bool TakeBacklog(uint64_t bytes);
  void Keep(const ObjectVersion& version, const char* base, uint64_t from, uint64_t got,
            uint64_t size, Reuse reuse);
  // Keeps the blocks of [from, from + got) on a writer thread, `owner` holding `base` until
  // then; or not at all when the backlog is full.
  void WriteBehind(const ObjectVersion& version, std::shared_ptr<const void> owner,
                   const char* base, uint64_t from, uint64_t got, uint64_t size);
  // The version read, as this thread last named it (valid until its next call).
  const ObjectVersion& VersionOf(std::string_view key, std::string_view etag, uint64_t read_end);
  static void NoteMiss(const std::string& id, uint64_t index);
  static bool TakeMiss(const std::string& id, uint64_t index);  // and forgets it
  void Serve(std::shared_ptr<Get> g);
  void Fetch(std::shared_ptr<Get> g);
  void Filled(std::shared_ptr<Get> g, Result<GetObjectResult> r);

  BlockStore* const cache_;
  const std::string source_;
  const uint64_t max_backlog_;
  metrics::Counter* const skipped_;
  std::mutex backlog_mu_;
  std::condition_variable written_;
  uint64_t backlog_ = 0;  // GUARDED_BY(backlog_mu_): bytes posted to writers_, not yet written
  WorkerPool writers_;    // before workers_: their tasks post to it until they are joined
  WorkerPool workers_;
};

}  // namespace s3m
