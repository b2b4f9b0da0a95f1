// BlockCache's start-up: the index rebuilt from the trailers of the files in the folder.
#include <algorithm>

#include "cache/block_cache.h"
#include "cache/block_layout.h"
#include "cache/block_trailer.h"
#include "common/log.h"

namespace s3m {

using block_layout::DigestOfName;
using block_layout::DiskBytes;
using block_layout::kDiskUnit;
using block_layout::RoundUp;
using block_layout::VersionHex;

Result<std::unique_ptr<BlockCache>> BlockCache::Open(std::unique_ptr<BlockFiles> files,
                                                     CacheOptions options, CacheMetrics metrics) {
  if (options.block_bytes == 0 || options.block_bytes > UINT32_MAX / 2) {
    return Status(Code::kInvalidArgument, "cache block size out of range");
  }
  std::unique_ptr<BlockCache> cache(new BlockCache(std::move(files), options, metrics));
  cache->Load();
  return cache;
}

BlockCache::BlockCache(std::unique_ptr<BlockFiles> files, CacheOptions options,
                       CacheMetrics metrics)
    : files_(std::move(files)),
      options_(options),
      metrics_(metrics),
      padded_block_(RoundUp(options.block_bytes)),
      slot_bytes_(padded_block_ + kDiskUnit) {}

BlockCache::~BlockCache() = default;

std::vector<BlockTrailer> BlockCache::Scan(const StoredFile& f, const std::string& version,
                                           std::vector<uint64_t>* invalid) {
  std::vector<BlockTrailer> out;
  auto file = files_->Open(f.name);
  if (!file.ok()) return out;
  for (uint64_t i = 0; SlotAt(i) < f.bytes; ++i) {  // a slot cut short is invalid
    // Holes are skipped: a few blocks of a huge object cost a few reads, not one per slot.
    auto data = (*file)->NextData(SlotAt(i));
    if (!data.ok()) break;
    if (*data >= SlotAt(i) + slot_bytes_) {
      i = *data / slot_bytes_ - 1;
      continue;
    }
    char trailer[kBlockTrailerBytes];
    auto n = (*file)->Read(TrailerAt(i), {{trailer, kBlockTrailerBytes}});
    std::optional<BlockTrailer> t;
    if (n.ok() && *n == kBlockTrailerBytes) t = DecodeBlockTrailer(trailer);
    if (t && t->version == version && t->index == i && t->data_bytes > 0 &&
        t->data_bytes <= options_.block_bytes) {
      out.push_back(*t);
    } else {
      invalid->push_back(i);
    }
  }
  return out;
}

void BlockCache::Load() {
  std::vector<StoredFile> found = files_->List();
  std::sort(found.begin(), found.end(),
            [](const StoredFile& a, const StoredFile& b) { return a.mtime_ns > b.mtime_ns; });
  std::vector<std::string> unwanted;
  Disposal d;
  for (const StoredFile& f : found) {
    // Anything that is not a version's file (a file of an older layout, say).
    std::optional<Digest> digest = DigestOfName(f.name);
    std::vector<uint64_t> invalid;
    std::vector<BlockTrailer> kept;
    if (digest) kept = Scan(f, VersionHex(*digest), &invalid);
    if (kept.empty()) {
      unwanted.push_back(f.name);
      continue;
    }
    std::lock_guard l(mu_);
    Version& v = versions_[*digest];
    uint64_t accounted = 0;
    for (const BlockTrailer& t : kept) {
      lru_.keys.push_back(Key{*digest, t.index});  // newest first
      Entry& e = index_[lru_.keys.back()];
      e.data_bytes = t.data_bytes;
      e.lru = {std::prev(lru_.keys.end()), false};
      e.serial = ++serials_;
      e.version = &v;
      ++v.blocks;
      accounted += DiskBytes(t.data_bytes);
    }
    used_ += accounted;
    // Slots a crash left half-written take disk the bound does not count: freed.
    if (f.allocated_bytes > accounted) {
      for (uint64_t i : invalid) {
        busy_.insert(Key{*digest, i});
        d.punch.push_back(Key{*digest, i});
      }
    }
  }
  {
    std::lock_guard l(mu_);
    MakeRoomLocked(0, 0, nullptr, &d);
    SetUsedGauge();
  }
  Dispose(d);
  for (const auto& name : unwanted) files_->Remove(name);
  if (!found.empty()) {
    S3M_INFO("cache: {} blocks ({} MiB) kept from before", blocks(), used_bytes() >> 20);
  }
}

}  // namespace s3m
