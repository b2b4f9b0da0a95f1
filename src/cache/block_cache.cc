#include "cache/block_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "cache/block_trailer.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "metrics/registry.h"

namespace s3m {
namespace {

constexpr uint64_t kDiskUnit = 4096;
constexpr size_t kTrailerBytes = kBlockTrailerBytes;

std::string BlockName(const std::string& version, uint64_t index) {
  return fmt::format("{}/{}.{}", version.substr(0, 2), version, index);
}

std::vector<uint32_t> PieceCrcs(const char* data, uint64_t bytes) {
  std::vector<uint32_t> crcs;
  for (uint64_t at = 0; at < bytes; at += kCheckedPieceBytes) {
    crcs.push_back(Crc32c(0, data + at, std::min(kCheckedPieceBytes, bytes - at)));
  }
  return crcs;
}

uint64_t DiskBytes(uint64_t data_bytes) {
  return (data_bytes + kTrailerBytes + kDiskUnit - 1) / kDiskUnit * kDiskUnit;
}

void Count(metrics::Counter* c, uint64_t n = 1) {
  if (c != nullptr) c->Add(n);
}

}  // namespace

CacheMetrics RegisterCacheMetrics(metrics::Registry* r) {
  CacheMetrics m;
  m.hits = r->AddCounter("s3mount_cache_hits_total", "Blocks served from the --cache directory");
  m.misses = r->AddCounter("s3mount_cache_misses_total",
                           "Blocks looked for in the --cache directory and fetched from S3");
  m.hit_bytes = r->AddCounter("s3mount_cache_hit_bytes_total", "Bytes served from the cache");
  m.written_bytes =
      r->AddCounter("s3mount_cache_written_bytes_total", "Bytes written into the cache");
  m.evictions = r->AddCounter("s3mount_cache_evictions_total",
                              "Blocks removed to keep the cache within its bound");
  m.errors = r->AddCounter("s3mount_cache_errors_total",
                           "Cache writes that failed and damaged blocks found (each a miss)");
  m.used_bytes = r->AddGauge("s3mount_cache_used_bytes",
                             "Bytes of the cache's block files (each rounded up to 4 KiB)");
  return m;
}

Result<std::unique_ptr<BlockCache>> BlockCache::Open(std::unique_ptr<BlockFiles> files,
                                                     CacheOptions options, CacheMetrics metrics) {
  if (options.block_bytes == 0 || options.block_bytes > UINT32_MAX) {
    return Status(Code::kInvalidArgument, "cache block size out of range");
  }
  std::unique_ptr<BlockCache> cache(new BlockCache(std::move(files), options, metrics));
  cache->Load();
  return cache;
}

BlockCache::BlockCache(std::unique_ptr<BlockFiles> files, CacheOptions options,
                       CacheMetrics metrics)
    : files_(std::move(files)), options_(options), metrics_(metrics) {}

BlockCache::~BlockCache() = default;

void BlockCache::Load() {
  std::vector<StoredFile> found = files_->List();
  std::sort(found.begin(), found.end(),
            [](const StoredFile& a, const StoredFile& b) { return a.mtime_ns > b.mtime_ns; });
  std::vector<std::string> unwanted;
  {
    std::lock_guard l(mu_);
    for (const StoredFile& f : found) {
      // Half-written files of a crash, and anything that is not a block.
      if (f.name.ends_with(".tmp") || f.bytes < kTrailerBytes) {
        unwanted.push_back(f.name);
        continue;
      }
      lru_.push_back(f.name);  // newest first
      uint64_t data = f.bytes - kTrailerBytes;
      index_[f.name] = Entry{data, DiskBytes(data), std::prev(lru_.end())};
      used_ += DiskBytes(data);
    }
    auto evict = MakeRoomLocked(0, 0, nullptr);
    unwanted.insert(unwanted.end(), evict.begin(), evict.end());
    SetUsedGauge();
  }
  for (const auto& name : unwanted) files_->Remove(name);
  if (!found.empty()) {
    S3M_INFO("cache: {} blocks ({} MiB) kept from before", blocks(), used_bytes() >> 20);
  }
}

std::optional<BlockHit> BlockCache::Get(const std::string& version, uint64_t index, char* out) {
  std::string name = BlockName(version, index);
  uint64_t data_bytes = 0;
  bool pieces_known = false;
  {
    std::lock_guard l(mu_);
    auto it = index_.find(name);
    if (it == index_.end()) {
      Count(metrics_.misses);
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    data_bytes = it->second.data_bytes;
    pieces_known = !it->second.piece_crcs.empty();
  }
  if (data_bytes > options_.block_bytes) {
    Forget(name);
    return std::nullopt;
  }
  char trailer[kTrailerBytes];
  auto n = files_->Read(name, 0, {{out, data_bytes}, {trailer, kTrailerBytes}});
  std::optional<BlockTrailer> t;
  if (n.ok() && *n == data_bytes + kTrailerBytes) t = DecodeBlockTrailer(trailer);
  bool good = t && BlockMatches(*t, version, index, out, data_bytes, options_.block_bytes);
  if (!good) return Damaged(name, n.status());
  Count(metrics_.hits);
  Count(metrics_.hit_bytes, data_bytes);
  if (!pieces_known) Remember(name, t->object_size, out, data_bytes);  // once per block
  return BlockHit{data_bytes, t->object_size};
}

std::optional<BlockHit> BlockCache::GetRange(const ObjectVersion& v, uint64_t index, uint64_t from,
                                             uint64_t to, char* out) {
  const std::string name = BlockName(v.id, index);
  uint64_t data_bytes = 0, object_size = 0;
  std::vector<uint32_t> crcs;
  {
    std::lock_guard l(mu_);
    auto it = index_.find(name);
    if (it != index_.end() && !it->second.piece_crcs.empty()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      data_bytes = it->second.data_bytes;
      object_size = it->second.object_size;
      crcs = it->second.piece_crcs;
    }
  }
  if (crcs.empty()) return BlockStore::GetRange(v, index, from, to, out);  // whole, checked
  to = std::min(to, data_bytes);
  if (from >= to) {
    Count(metrics_.hits);
    return BlockHit{data_bytes, object_size};
  }
  const uint64_t first = from / kCheckedPieceBytes;
  const uint64_t lo = first * kCheckedPieceBytes;
  const uint64_t hi = std::min(data_bytes, (to + kCheckedPieceBytes - 1) / kCheckedPieceBytes *
                                               kCheckedPieceBytes);
  // A range of whole pieces (the reader's 64 KiB-aligned random reads) is read straight
  // into `out` and checked there: on a miss the caller overwrites it anyway.
  thread_local std::vector<char> pieces;
  char* into = out;
  if (lo != from || hi != to) {
    pieces.resize(hi - lo);
    into = pieces.data();
  }
  auto n = files_->Read(name, lo, {{into, hi - lo}});
  bool good = n.ok() && *n == hi - lo;
  for (uint64_t at = lo; good && at < hi; at += kCheckedPieceBytes) {
    uint64_t len = std::min(kCheckedPieceBytes, hi - at);
    good = Crc32c(0, into + (at - lo), len) == crcs[at / kCheckedPieceBytes];
  }
  if (!good) return Damaged(name, n.status());
  if (into != out) std::memcpy(out, into + (from - lo), to - from);
  Count(metrics_.hits);
  Count(metrics_.hit_bytes, to - from);
  return BlockHit{data_bytes, object_size};
}

std::nullopt_t BlockCache::Damaged(const std::string& name, const Status& read) {
  if (read.code() != Code::kNotFound) {  // else evicted meanwhile: a plain miss
    S3M_WARN("cache: block {} is damaged or unreadable; fetching it again", name);
    Count(metrics_.errors);
  }
  Count(metrics_.misses);
  Forget(name);
  return std::nullopt;
}

void BlockCache::Remember(const std::string& name, uint64_t object_size, const char* data,
                          uint64_t bytes) {
  std::vector<uint32_t> crcs = PieceCrcs(data, bytes);
  std::lock_guard l(mu_);
  auto it = index_.find(name);
  if (it == index_.end() || it->second.data_bytes != bytes) return;
  it->second.object_size = object_size;
  it->second.piece_crcs = std::move(crcs);
}

void BlockCache::Put(const std::string& version, uint64_t index, uint64_t object_size,
                     const char* data, uint64_t bytes) {
  if (bytes == 0 || bytes > options_.block_bytes) return;
  std::string name = BlockName(version, index);
  const uint64_t disk = DiskBytes(bytes);
  uint64_t deficit = 0;
  if (options_.max_bytes == 0) {
    auto space = files_->Space();
    if (!space.ok()) return;
    auto keep_free = static_cast<uint64_t>(options_.min_free_fraction *
                                           static_cast<double>(space->total_bytes));
    if (space->free_bytes < keep_free + disk) deficit = keep_free + disk - space->free_bytes;
  }
  std::vector<std::string> evict;
  bool fits = false;
  {
    std::lock_guard l(mu_);
    if (index_.count(name) != 0 || writing_.count(name) != 0) return;
    uint64_t freed = 0;
    evict = MakeRoomLocked(disk, deficit, &freed);
    fits = options_.max_bytes == 0 ? freed >= deficit : used_ + disk <= options_.max_bytes;
    if (fits) {
      writing_.insert(name);
      used_ += disk;
    }
    SetUsedGauge();
  }
  for (const auto& n : evict) files_->Remove(n);
  if (!fits) return;

  char trailer[kTrailerBytes];
  EncodeBlockTrailer(version, index, object_size, data, static_cast<uint32_t>(bytes), trailer);
  Status s = files_->Write(name, {{const_cast<char*>(data), bytes}, {trailer, kTrailerBytes}});
  std::vector<uint32_t> crcs = s.ok() ? PieceCrcs(data, bytes) : std::vector<uint32_t>{};
  std::lock_guard l(mu_);
  writing_.erase(name);
  if (s.ok()) {
    lru_.push_front(name);
    index_[name] = Entry{bytes, disk, lru_.begin(), object_size, std::move(crcs)};
    Count(metrics_.written_bytes, bytes);
  } else {
    used_ -= disk;
    Count(metrics_.errors);
    S3M_DEBUG("cache: block {} not kept: {}", name, s.ToString());
  }
  SetUsedGauge();
}

std::vector<std::string> BlockCache::MakeRoomLocked(uint64_t incoming, uint64_t free_deficit,
                                                    uint64_t* freed) {
  std::vector<std::string> out;
  uint64_t got = 0;
  while (!lru_.empty()) {
    bool over = options_.max_bytes != 0 && used_ + incoming > options_.max_bytes;
    if (!over && got >= free_deficit) break;
    const std::string& name = lru_.back();
    auto it = index_.find(name);
    used_ -= it->second.disk_bytes;
    got += it->second.disk_bytes;
    out.push_back(name);
    index_.erase(it);
    lru_.pop_back();
    Count(metrics_.evictions);
  }
  if (freed != nullptr) *freed = got;
  return out;
}

void BlockCache::Forget(const std::string& name) {
  {
    std::lock_guard l(mu_);
    auto it = index_.find(name);
    if (it == index_.end()) return;
    used_ -= it->second.disk_bytes;
    lru_.erase(it->second.lru);
    index_.erase(it);
    SetUsedGauge();
  }
  files_->Remove(name);
}

void BlockCache::SetUsedGauge() {
  if (metrics_.used_bytes != nullptr) metrics_.used_bytes->Set(static_cast<int64_t>(used_));
}

uint64_t BlockCache::used_bytes() const {
  std::lock_guard l(mu_);
  return used_;
}

size_t BlockCache::blocks() const {
  std::lock_guard l(mu_);
  return index_.size();
}

}  // namespace s3m
