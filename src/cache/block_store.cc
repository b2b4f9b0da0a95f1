#include "cache/block_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "s3/sigv4.h"

namespace s3m {

std::string ObjectVersionId(const std::string& source, const std::string& key,
                            const std::string& etag) {
  std::string_view e = etag;
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  std::string id = fmt::format("{}\n{}\n{}", source, key, e);
  return Sha256Hex(id.data(), id.size());
}

std::optional<BlockHit> BlockStore::GetRange(const ObjectVersion& v, uint64_t index,
                                             uint64_t from, uint64_t to, char* out) {
  thread_local std::vector<char> block;
  block.resize(block_bytes());
  auto hit = Get(v, index, block.data());
  if (hit && from < hit->bytes) std::memcpy(out, block.data() + from, std::min(to, hit->bytes) - from);
  return hit;
}

void BlockStore::PutRun(const ObjectVersion& v, uint64_t first, uint64_t object_size,
                        const char* data, uint64_t bytes, Reuse reuse) {
  const uint64_t bs = block_bytes();
  for (uint64_t at = 0; at < bytes; at += bs) {
    Put(v, first + at / bs, object_size, data + at, std::min(bs, bytes - at), reuse);
  }
}

}  // namespace s3m
