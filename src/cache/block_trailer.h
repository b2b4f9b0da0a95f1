// BlockTrailer: what a cached block carries after its bytes so that it can be checked
// before it is served: whose block it is (a version id, its index, the object's size) and
// a CRC32C of its bytes; the trailer has a CRC32C of its own. Used by the local disk cache
// (a slot per block in a file per version) and the shared cache (an object per block).
// Pure; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace s3m {

// The format's name, at the start of every trailer (and hashed into the shared cache's
// key prefix, so that a new format never reads blocks of the old one).
inline constexpr char kBlockTrailerMagic[] = "S3MBLK01";
inline constexpr size_t kBlockTrailerBytes = 100;

struct BlockTrailer {
  std::string version;  // ObjectVersionId(...), 64 hex characters
  uint64_t index = 0;
  uint64_t object_size = 0;
  uint32_t data_crc = 0;
  uint32_t data_bytes = 0;
};

// Writes the trailer of block `index` of `version` into `out` (kBlockTrailerBytes): the
// block is `bytes` long, `data_crc` the CRC32C of its bytes. `version` must be 64 characters.
void EncodeBlockTrailer(const std::string& version, uint64_t index, uint64_t object_size,
                        uint32_t data_crc, uint32_t bytes, char* out);

// The trailer at `in` (kBlockTrailerBytes), if its magic and own CRC check out.
std::optional<BlockTrailer> DecodeBlockTrailer(const char* in);

// Whether bytes read (`bytes` long, CRC32C `data_crc`) are block `index` of `version` as
// the trailer says, and the trailer is consistent: the block fits in `block_bytes` and in
// the object.
bool BlockMatches(const BlockTrailer& t, const std::string& version, uint64_t index,
                  uint32_t data_crc, uint64_t bytes, uint64_t block_bytes);

}  // namespace s3m
