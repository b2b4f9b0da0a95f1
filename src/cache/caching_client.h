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
// buffer, and its blocks written to disk before the reader is told it is complete.
//
// Threads: the store's reads and writes run on the client's WorkerPool, never on the inner
// client's callback thread; `done` runs on a worker. Widened GETs use a buffer of their own
// (outside the memory budget: at most the request plus two blocks).
#pragma once

#include <memory>
#include <string>

#include "cache/block_store.h"
#include "cache/worker_pool.h"
#include "s3/forwarding_client.h"

namespace s3m {

class CachingClient : public ForwardingClient {
 public:
  // `source` names the S3 store and bucket (blocks of two stores never mix). `store` must
  // outlive this client.
  CachingClient(ObjectClient* inner, BlockStore* store, std::string source, int threads = 4);
  ~CachingClient() override;  // waits for the disk work queued

  void GetObject(GetObjectParams p, Callback<GetObjectResult> done) override;

 private:
  struct Get;
  void Serve(std::shared_ptr<Get> g);
  void Fetch(std::shared_ptr<Get> g);
  void Filled(std::shared_ptr<Get> g, Result<GetObjectResult> r);

  BlockStore* const cache_;
  const std::string source_;
  WorkerPool workers_;
};

}  // namespace s3m
