#include "cache/tiered_block_store.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/log.h"

namespace s3m {

TieredBlockStore::TieredBlockStore(BlockStore* local, BlockStore* shared)
    : local_(local), shared_(shared) {
  // A block is one unit in both: the same index names the same bytes.
  if (local_->block_bytes() != shared_->block_bytes()) {
    S3M_ERROR("cache tiers differ in block size: {} and {}", local_->block_bytes(),
              shared_->block_bytes());
    std::abort();
  }
}

std::optional<BlockHit> TieredBlockStore::Get(const ObjectVersion& v, uint64_t index, char* out) {
  if (auto hit = local_->Get(v, index, out)) return hit;
  auto hit = shared_->Get(v, index, out);
  if (hit) local_->Put(v, index, hit->object_size, out, hit->bytes);
  return hit;
}

std::optional<BlockHit> TieredBlockStore::GetRange(const ObjectVersion& v, uint64_t index,
                                                   uint64_t from, uint64_t to, char* out) {
  if (auto hit = local_->GetRange(v, index, from, to, out)) return hit;
  thread_local std::vector<char> block;
  block.resize(block_bytes());
  auto hit = shared_->Get(v, index, block.data());
  if (!hit) return hit;
  local_->Put(v, index, hit->object_size, block.data(), hit->bytes);
  if (from < hit->bytes) std::memcpy(out, block.data() + from, std::min(to, hit->bytes) - from);
  return hit;
}

void TieredBlockStore::Put(const ObjectVersion& v, uint64_t index, uint64_t object_size,
                           const char* data, uint64_t bytes, Reuse reuse) {
  local_->Put(v, index, object_size, data, bytes, reuse);
  shared_->Put(v, index, object_size, data, bytes, reuse);
}

void TieredBlockStore::PutRun(const ObjectVersion& v, uint64_t first, uint64_t object_size,
                              const char* data, uint64_t bytes, Reuse reuse) {
  local_->PutRun(v, first, object_size, data, bytes, reuse);
  shared_->PutRun(v, first, object_size, data, bytes, reuse);
}

}  // namespace s3m
