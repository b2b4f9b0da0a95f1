#include "cache/block_trailer.h"

#include <algorithm>
#include <cstring>

#include "common/crc32c.h"

namespace s3m {
namespace {

// Little-endian fields at fixed offsets after the 8-byte magic.
constexpr size_t kMagicBytes = 8;
constexpr size_t kVersionAt = 8;  // 64 hex characters
constexpr size_t kVersionBytes = 64;
constexpr size_t kIndexAt = 72;       // u64
constexpr size_t kObjectSizeAt = 80;  // u64
constexpr size_t kDataCrcAt = 88;     // u32
constexpr size_t kDataBytesAt = 92;   // u32
constexpr size_t kTrailerCrcAt = 96;  // u32, of the bytes before it
static_assert(kTrailerCrcAt + 4 == kBlockTrailerBytes);
static_assert(sizeof kBlockTrailerMagic == kMagicBytes + 1);

template <typename T>
void Store(char* at, T v) {
  std::memcpy(at, &v, sizeof v);  // x86-64 and arm64 are little-endian
}
template <typename T>
T Load(const char* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

}  // namespace

void EncodeBlockTrailer(const std::string& version, uint64_t index, uint64_t object_size,
                        uint32_t data_crc, uint32_t bytes, char* out) {
  std::memcpy(out, kBlockTrailerMagic, kMagicBytes);
  std::memset(out + kVersionAt, 0, kVersionBytes);
  std::memcpy(out + kVersionAt, version.data(), std::min(version.size(), kVersionBytes));
  Store<uint64_t>(out + kIndexAt, index);
  Store<uint64_t>(out + kObjectSizeAt, object_size);
  Store<uint32_t>(out + kDataCrcAt, data_crc);
  Store<uint32_t>(out + kDataBytesAt, bytes);
  Store<uint32_t>(out + kTrailerCrcAt, Crc32c(0, out, kTrailerCrcAt));
}

std::optional<BlockTrailer> DecodeBlockTrailer(const char* in) {
  if (std::memcmp(in, kBlockTrailerMagic, kMagicBytes) != 0) return std::nullopt;
  if (Load<uint32_t>(in + kTrailerCrcAt) != Crc32c(0, in, kTrailerCrcAt)) return std::nullopt;
  BlockTrailer t;
  t.version.assign(in + kVersionAt, kVersionBytes);
  t.index = Load<uint64_t>(in + kIndexAt);
  t.object_size = Load<uint64_t>(in + kObjectSizeAt);
  t.data_crc = Load<uint32_t>(in + kDataCrcAt);
  t.data_bytes = Load<uint32_t>(in + kDataBytesAt);
  return t;
}

bool BlockMatches(const BlockTrailer& t, const std::string& version, uint64_t index,
                  uint32_t data_crc, uint64_t bytes, uint64_t block_bytes) {
  return t.version == version && t.index == index && t.data_bytes == bytes &&
         bytes <= block_bytes && index * block_bytes + bytes <= t.object_size &&
         t.data_crc == data_crc;
}

}  // namespace s3m
