// TieredBlockStore: --cache and --cache-xz together, as Mountpoint's multilevel cache. A
// block is looked for on the local disk first, then in the shared bucket; a shared hit is
// kept locally too, so the next read of it costs no request. New blocks go to both.
//
// Thread-safety: as its stores (any thread). Both stores must outlive it and have the
// same block size.
#pragma once

#include "cache/block_store.h"

namespace s3m {

class TieredBlockStore : public BlockStore {
 public:
  TieredBlockStore(BlockStore* local, BlockStore* shared);

  std::optional<BlockHit> Get(const ObjectVersion& v, uint64_t index, char* out) override;
  std::optional<BlockHit> GetRange(const ObjectVersion& v, uint64_t index, uint64_t from,
                                   uint64_t to, char* out) override;
  using BlockStore::Put;
  void Put(const ObjectVersion& v, uint64_t index, uint64_t object_size, const char* data,
           uint64_t bytes, Reuse reuse) override;
  void PutRun(const ObjectVersion& v, uint64_t first, uint64_t object_size, const char* data,
              uint64_t bytes, Reuse reuse) override;
  uint64_t block_bytes() const override { return local_->block_bytes(); }
  bool Wants(const ObjectVersion& v) const override {
    return local_->Wants(v) || shared_->Wants(v);
  }

 private:
  BlockStore* const local_;
  BlockStore* const shared_;
};

}  // namespace s3m
