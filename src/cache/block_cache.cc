#include "cache/block_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>
#include <vector>

#include "cache/block_trailer.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "metrics/registry.h"

namespace s3m {
namespace {

using Key = BlockCache::Key;

constexpr uint64_t kDiskUnit = 4096;
constexpr size_t kTrailerBytes = kBlockTrailerBytes;
constexpr char kHex[] = "0123456789abcdef";

// The key of block `index` of `version` (64 lower-case hex characters), if it is one.
std::optional<Key> KeyOf(std::string_view version, uint64_t index) {
  if (version.size() != 64) return std::nullopt;
  Key k;
  k.index = index;
  for (size_t i = 0; i < 64; ++i) {
    const char c = version[i];
    uint64_t nibble = 0;
    if (c >= '0' && c <= '9') {
      nibble = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      nibble = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    k.version[i / 16] = k.version[i / 16] << 4 | nibble;
  }
  return k;
}

std::string VersionHex(const Key& k) {
  std::string hex(64, '0');
  for (size_t i = 0; i < 64; ++i) hex[i] = kHex[(k.version[i / 16] >> (60 - 4 * (i % 16))) & 15];
  return hex;
}

// "ab/abcd...ef.INDEX": a folder per first byte keeps folders small.
std::string NameOf(const Key& k) {
  std::string hex = VersionHex(k);
  return fmt::format("{}/{}.{}", hex.substr(0, 2), hex, k.index);
}

// The key a file's name gives, if it is a block's.
std::optional<Key> KeyOfName(std::string_view name) {
  if (name.size() < 3 + 64 + 2 || name[2] != '/' || name.substr(0, 2) != name.substr(3, 2) ||
      name[3 + 64] != '.') {
    return std::nullopt;
  }
  uint64_t index = 0;
  std::string_view digits = name.substr(3 + 64 + 1);
  auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (err != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return KeyOf(name.substr(3, 64), index);
}

// The CRC32C of each kCheckedPieceBytes of `data`, and in `whole` that of all of it: one
// pass over the bytes.
std::vector<uint32_t> PieceCrcs(const char* data, uint64_t bytes, uint32_t* whole) {
  std::vector<uint32_t> crcs;
  crcs.reserve((bytes + kCheckedPieceBytes - 1) / kCheckedPieceBytes);
  uint32_t all = 0;
  for (uint64_t at = 0; at < bytes; at += kCheckedPieceBytes) {
    const uint64_t n = std::min(kCheckedPieceBytes, bytes - at);
    crcs.push_back(Crc32c(0, data + at, n));
    all = Crc32cCombine(all, crcs.back(), n);
  }
  *whole = all;
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
      std::optional<Key> key = KeyOfName(f.name);
      if (!key || f.bytes < kTrailerBytes || index_.count(*key) != 0) {
        unwanted.push_back(f.name);
        continue;
      }
      lru_.push_back(*key);  // newest first
      uint64_t data = f.bytes - kTrailerBytes;
      Entry& e = index_[*key];
      e.data_bytes = data;
      e.disk_bytes = DiskBytes(data);
      e.lru = std::prev(lru_.end());
      e.serial = ++serials_;
      used_ += e.disk_bytes;
    }
    std::vector<std::shared_ptr<BlockFile>> closing;
    for (const Key& k : MakeRoomLocked(0, 0, nullptr, &closing)) unwanted.push_back(NameOf(k));
    SetUsedGauge();
  }
  for (const auto& name : unwanted) files_->Remove(name);
  if (!found.empty()) {
    S3M_INFO("cache: {} blocks ({} MiB) kept from before", blocks(), used_bytes() >> 20);
  }
}

std::optional<BlockHit> BlockCache::Get(const std::string& version, uint64_t index, char* out) {
  std::optional<Key> key = KeyOf(version, index);
  if (!key) {
    Count(metrics_.misses);
    return std::nullopt;
  }
  uint64_t serial = 0;
  return ReadWhole(*key, version, out, nullptr, &serial);
}

std::optional<BlockHit> BlockCache::ReadWhole(const Key& key, const std::string& version,
                                              char* out, std::vector<uint32_t>* pieces,
                                              uint64_t* serial) {
  uint64_t data_bytes = 0;
  {
    std::lock_guard l(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      Count(metrics_.misses);
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    data_bytes = it->second.data_bytes;
    *serial = it->second.serial;
  }
  if (data_bytes > options_.block_bytes) return Damaged(key, *serial, Status::Ok());
  char trailer[kTrailerBytes];
  auto n = files_->Read(NameOf(key), 0, {{out, data_bytes}, {trailer, kTrailerBytes}});
  std::optional<BlockTrailer> t;
  if (n.ok() && *n == data_bytes + kTrailerBytes) t = DecodeBlockTrailer(trailer);
  uint32_t crc = 0;
  if (t && pieces != nullptr) *pieces = PieceCrcs(out, data_bytes, &crc);  // one pass
  if (t && pieces == nullptr) crc = Crc32c(0, out, data_bytes);
  bool good = t && BlockMatches(*t, version, key.index, crc, data_bytes, options_.block_bytes);
  if (!good) return Damaged(key, *serial, n.status());
  Count(metrics_.hits);
  Count(metrics_.hit_bytes, data_bytes);
  std::lock_guard l(mu_);
  if (auto it = index_.find(key); it != index_.end()) it->second.object_size = t->object_size;
  return BlockHit{data_bytes, t->object_size};
}

std::optional<BlockHit> BlockCache::GetRange(const ObjectVersion& v, uint64_t index, uint64_t from,
                                             uint64_t to, char* out) {
  std::optional<Key> key = KeyOf(v.id, index);
  if (!key) return Get(v, index, out);  // a miss
  uint64_t data_bytes = 0, object_size = 0, lo = 0, hi = 0, serial = 0;
  bool hot = false;
  std::shared_ptr<BlockFile> file;
  thread_local std::vector<uint32_t> crcs;  // of the pieces [lo, hi): no allocation per read
  crcs.clear();
  {
    std::lock_guard l(mu_);
    auto it = index_.find(*key);
    if (it != index_.end() && it->second.hot != nullptr) {
      Entry& e = it->second;
      lru_.splice(lru_.begin(), lru_, e.lru);
      hot_lru_.splice(hot_lru_.begin(), hot_lru_, e.hot->lru);
      hot = true;
      data_bytes = e.data_bytes;
      object_size = e.object_size;
      serial = e.serial;
      file = e.hot->file;
      to = std::min(to, data_bytes);
      lo = from / kCheckedPieceBytes * kCheckedPieceBytes;
      hi = std::min(data_bytes,
                    (to + kCheckedPieceBytes - 1) / kCheckedPieceBytes * kCheckedPieceBytes);
      if (from < to) {
        const auto& all = e.hot->piece_crcs;
        crcs.assign(all.begin() + static_cast<long>(lo / kCheckedPieceBytes),
                    all.begin() + static_cast<long>((hi - 1) / kCheckedPieceBytes + 1));
      }
    }
  }
  if (!hot) {
    // Read and checked whole, and made hot: its neighbours are likely read next.
    thread_local std::vector<char> block;
    block.resize(options_.block_bytes);
    std::vector<uint32_t> pieces;
    auto hit = ReadWhole(*key, v.id, block.data(), &pieces, &serial);
    if (!hit) return hit;
    if (from < hit->bytes) {
      std::memcpy(out, block.data() + from, std::min(to, hit->bytes) - from);
    }
    std::shared_ptr<BlockFile> closing;
    std::lock_guard l(mu_);
    auto it = index_.find(*key);
    if (it != index_.end() && it->second.serial == serial) {
      closing = MakeHotLocked(it, std::move(pieces));
    }
    return hit;
  }
  if (from >= to) {
    Count(metrics_.hits);
    return BlockHit{data_bytes, object_size};
  }
  if (file == nullptr) {
    auto opened = files_->Open(NameOf(*key));
    if (!opened.ok()) return Damaged(*key, serial, opened.status());
    file = *opened;
    KeepOpen(*key, serial, file);
  }
  // A range of whole pieces is read straight into `out` and checked there: on a miss the
  // caller overwrites it anyway.
  thread_local std::vector<char> pieces;
  char* into = out;
  if (lo != from || hi != to) {
    pieces.resize(hi - lo);
    into = pieces.data();
  }
  auto n = file->Read(lo, {{into, hi - lo}});
  bool good = n.ok() && *n == hi - lo;
  for (uint64_t at = lo; good && at < hi; at += kCheckedPieceBytes) {
    uint64_t len = std::min(kCheckedPieceBytes, hi - at);
    good = Crc32c(0, into + (at - lo), len) == crcs[(at - lo) / kCheckedPieceBytes];
  }
  if (!good) return Damaged(*key, serial, n.status());
  if (into != out) std::memcpy(out, into + (from - lo), to - from);
  Count(metrics_.hits);
  Count(metrics_.hit_bytes, to - from);
  return BlockHit{data_bytes, object_size};
}

std::shared_ptr<BlockFile> BlockCache::MakeHotLocked(Index::iterator it,
                                                     std::vector<uint32_t> crcs) {
  std::shared_ptr<BlockFile> closing;
  if (options_.hot_blocks == 0) return closing;
  Entry& e = it->second;
  if (e.hot != nullptr) {
    e.hot->piece_crcs = std::move(crcs);
    return closing;
  }
  if (hot_lru_.size() >= options_.hot_blocks) {
    auto coldest = index_.find(hot_lru_.back());
    closing = std::move(coldest->second.hot->file);
    coldest->second.hot.reset();
    hot_lru_.pop_back();
  }
  hot_lru_.push_front(it->first);
  e.hot = std::make_unique<Hot>();
  e.hot->piece_crcs = std::move(crcs);
  e.hot->lru = hot_lru_.begin();
  return closing;
}

void BlockCache::KeepOpen(const Key& key, uint64_t serial, std::shared_ptr<BlockFile> file) {
  std::lock_guard l(mu_);
  auto it = index_.find(key);
  if (it == index_.end() || it->second.serial != serial || it->second.hot == nullptr ||
      it->second.hot->file != nullptr) {
    return;  // `file` is let go of by the caller, outside the lock
  }
  it->second.hot->file = std::move(file);
}

std::nullopt_t BlockCache::Damaged(const Key& key, uint64_t serial, const Status& read) {
  Count(metrics_.misses);
  // Not found: evicted meanwhile, a plain miss.
  if (Forget(key, serial) && read.code() != Code::kNotFound) {
    S3M_WARN("cache: block {} is damaged or unreadable; fetching it again", NameOf(key));
    Count(metrics_.errors);
  }
  return std::nullopt;
}

void BlockCache::Put(const std::string& version, uint64_t index, uint64_t object_size,
                     const char* data, uint64_t bytes, Reuse reuse) {
  if (bytes == 0 || bytes > options_.block_bytes) return;
  std::optional<Key> key = KeyOf(version, index);
  if (!key) return;
  const uint64_t disk = DiskBytes(bytes);
  uint64_t deficit = 0;
  if (options_.max_bytes == 0) {
    auto space = files_->Space();
    if (!space.ok()) return;
    auto keep_free = static_cast<uint64_t>(options_.min_free_fraction *
                                           static_cast<double>(space->total_bytes));
    if (space->free_bytes < keep_free + disk) deficit = keep_free + disk - space->free_bytes;
  }
  std::vector<Key> evict;
  std::vector<std::shared_ptr<BlockFile>> closing;
  bool fits = false;
  {
    std::lock_guard l(mu_);
    if (index_.count(*key) != 0 || writing_.count(*key) != 0) return;
    uint64_t freed = 0;
    evict = MakeRoomLocked(disk, deficit, &freed, &closing);
    fits = options_.max_bytes == 0 ? freed >= deficit : used_ + disk <= options_.max_bytes;
    if (fits) {
      writing_.insert(*key);
      used_ += disk;
    }
    SetUsedGauge();
  }
  closing.clear();
  for (const Key& k : evict) files_->Remove(NameOf(k));
  if (!fits) return;

  // A block a random read fetched is hot: its piece CRCs are taken in the pass that takes
  // its CRC.
  uint32_t crc = 0;
  std::vector<uint32_t> crcs;
  if (reuse == Reuse::kSoon) {
    crcs = PieceCrcs(data, bytes, &crc);
  } else {
    crc = Crc32c(0, data, bytes);
  }
  char trailer[kTrailerBytes];
  EncodeBlockTrailer(version, index, object_size, crc, static_cast<uint32_t>(bytes), trailer);
  const std::string name = NameOf(*key);
  Status s = files_->Write(name, {{const_cast<char*>(data), bytes}, {trailer, kTrailerBytes}},
                           reuse == Reuse::kLater ? PageCache::kBypass : PageCache::kKeep);
  std::shared_ptr<BlockFile> cooled;  // let go of outside the lock
  std::lock_guard l(mu_);
  writing_.erase(*key);
  if (s.ok()) {
    lru_.push_front(*key);
    auto [it, added] = index_.try_emplace(*key);
    Entry& e = it->second;
    e.data_bytes = bytes;
    e.disk_bytes = disk;
    e.lru = lru_.begin();
    e.serial = ++serials_;
    e.object_size = object_size;
    if (!crcs.empty()) cooled = MakeHotLocked(it, std::move(crcs));
    Count(metrics_.written_bytes, bytes);
  } else {
    used_ -= disk;
    Count(metrics_.errors);
    S3M_DEBUG("cache: block {} not kept: {}", name, s.ToString());
  }
  SetUsedGauge();
}

std::vector<Key> BlockCache::MakeRoomLocked(uint64_t incoming, uint64_t free_deficit,
                                            uint64_t* freed,
                                            std::vector<std::shared_ptr<BlockFile>>* closing) {
  std::vector<Key> out;
  uint64_t got = 0;
  while (!lru_.empty()) {
    bool over = options_.max_bytes != 0 && used_ + incoming > options_.max_bytes;
    if (!over && got >= free_deficit) break;
    auto it = index_.find(lru_.back());
    got += it->second.disk_bytes;
    out.push_back(it->first);
    closing->push_back(EraseLocked(it));
    Count(metrics_.evictions);
  }
  if (freed != nullptr) *freed = got;
  return out;
}

std::shared_ptr<BlockFile> BlockCache::EraseLocked(Index::iterator it) {
  Entry& e = it->second;
  std::shared_ptr<BlockFile> file;
  if (e.hot != nullptr) {
    file = std::move(e.hot->file);
    hot_lru_.erase(e.hot->lru);
  }
  used_ -= e.disk_bytes;
  lru_.erase(e.lru);
  index_.erase(it);
  return file;
}

bool BlockCache::Forget(const Key& key, uint64_t serial) {
  std::shared_ptr<BlockFile> closing;
  {
    std::lock_guard l(mu_);
    auto it = index_.find(key);
    if (it == index_.end() || it->second.serial != serial) return false;
    closing = EraseLocked(it);
    SetUsedGauge();
  }
  closing.reset();  // before the unlink: the file's space is freed with it
  files_->Remove(NameOf(key));
  return true;
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

size_t BlockCache::hot_blocks() const {
  std::lock_guard l(mu_);
  return hot_lru_.size();
}

size_t BlockCache::open_files() const {
  std::lock_guard l(mu_);
  size_t n = 0;
  for (const Key& k : hot_lru_) n += index_.at(k).hot->file != nullptr ? 1 : 0;
  return n;
}

}  // namespace s3m
