// How BlockCache names and lays out its files (internal to src/cache): a version's digest
// and its file's name, a block's disk.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cache/block_cache.h"

namespace s3m::block_layout {

using Key = BlockCache::Key;
using Digest = BlockCache::Digest;

// The unit of the disk: data is rounded up to it, a trailer takes one.
inline constexpr uint64_t kDiskUnit = 4096;

inline uint64_t RoundUp(uint64_t n) {
  return (n + kDiskUnit - 1) / kDiskUnit * kDiskUnit;
}
// A block's disk: its bytes, rounded up, and its trailer's page.
inline uint64_t DiskBytes(uint64_t data_bytes) {
  return RoundUp(data_bytes) + kDiskUnit;
}

// The digest of a version's 64 lower-case hex characters, if they are that.
std::optional<Digest> DigestOf(std::string_view version);
std::string VersionHex(const Digest& d);
// The key of block `index` of `version`, if it is one. The index is bounded so that a slot's
// offset fits any file system's file (2^30 blocks: a PiB of 1 MiB blocks).
std::optional<Key> KeyOf(std::string_view version, uint64_t index);
// "ab/abcd...ef": a folder per first byte keeps folders small.
std::string FileOf(const Digest& d);
// The digest a file's name gives, if it is a version's file.
std::optional<Digest> DigestOfName(std::string_view name);

}  // namespace s3m::block_layout
