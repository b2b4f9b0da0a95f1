#include "cache/block_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "cache/block_layout.h"
#include "cache/block_trailer.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "metrics/registry.h"

namespace s3m {

using block_layout::DiskBytes;
using block_layout::FileOf;
using block_layout::kDiskUnit;
using block_layout::KeyOf;

namespace {

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

// Where a trailer is written from: a page of its own, aligned for O_DIRECT.
struct alignas(kDiskUnit) TrailerPage {
  char bytes[kDiskUnit];
};

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
                             "Bytes of the cache's blocks on disk (each rounded up to 4 KiB, "
                             "plus 4 KiB of trailer)");
  return m;
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

Result<std::optional<BlockTrailer>> BlockCache::ReadBlock(const Key& key, uint64_t data_bytes,
                                                          std::shared_ptr<BlockFile> file,
                                                          char* out) {
  if (file == nullptr) {
    auto opened = files_->Open(FileOf(key.version));
    if (!opened.ok()) return opened.status();
    file = std::move(*opened);
  }
  char trailer[kBlockTrailerBytes];
  uint64_t got = 0;
  if (data_bytes == padded_block_) {  // contiguous: one read
    auto n = file->Read(SlotAt(key.index), {{out, data_bytes}, {trailer, kBlockTrailerBytes}});
    if (!n.ok()) return n.status();
    got = *n;
  } else {
    auto n = file->Read(SlotAt(key.index), {{out, data_bytes}});
    if (!n.ok()) return n.status();
    auto m = file->Read(TrailerAt(key.index), {{trailer, kBlockTrailerBytes}});
    if (!m.ok()) return m.status();
    got = *n == data_bytes ? *n + *m : 0;
  }
  if (got != data_bytes + kBlockTrailerBytes) return std::optional<BlockTrailer>();
  return DecodeBlockTrailer(trailer);
}

std::optional<BlockHit> BlockCache::ReadWhole(const Key& key, const std::string& version, char* out,
                                              std::vector<uint32_t>* pieces, uint64_t* serial) {
  uint64_t data_bytes = 0;
  std::shared_ptr<BlockFile> file;
  {
    std::lock_guard l(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      Count(metrics_.misses);
      return std::nullopt;
    }
    lru_.Touch(it->second.lru);
    data_bytes = it->second.data_bytes;
    *serial = it->second.serial;
    file = it->second.version->file;
  }
  auto t = ReadBlock(key, data_bytes, std::move(file), out);
  if (!t.ok()) return Damaged(key, *serial, t.status());
  uint32_t crc = 0;
  if (*t && pieces != nullptr) *pieces = PieceCrcs(out, data_bytes, &crc);  // one pass
  if (*t && pieces == nullptr) crc = Crc32c(0, out, data_bytes);
  if (!*t || !BlockMatches(**t, version, key.index, crc, data_bytes, options_.block_bytes)) {
    return Damaged(key, *serial, Status::Ok());
  }
  const uint64_t object_size = (*t)->object_size;
  Count(metrics_.hits);
  Count(metrics_.hit_bytes, data_bytes);
  std::lock_guard l(mu_);
  if (auto it = index_.find(key); it != index_.end()) it->second.object_size = object_size;
  return BlockHit{data_bytes, object_size};
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
      lru_.Touch(e.lru);
      hot_lru_.Touch(e.hot->lru);
      hot = true;
      data_bytes = e.data_bytes;
      object_size = e.object_size;
      serial = e.serial;
      file = e.version->file;
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
    Disposal d;
    {
      std::lock_guard l(mu_);
      auto it = index_.find(*key);
      if (it != index_.end() && it->second.serial == serial) {
        MakeHotLocked(it, std::move(pieces), &d);
      }
    }
    return hit;  // d's files are let go of here, outside the lock
  }
  if (from >= to) {
    Count(metrics_.hits);
    return BlockHit{data_bytes, object_size};
  }
  if (file == nullptr) {
    auto opened = files_->Open(FileOf(key->version));
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
  auto n = file->Read(SlotAt(key->index) + lo, {{into, hi - lo}});
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

void BlockCache::MakeHotLocked(Index::iterator it, std::vector<uint32_t> crcs, Disposal* out) {
  if (options_.hot_blocks == 0) return;
  Entry& e = it->second;
  if (e.hot != nullptr) {
    e.hot->piece_crcs = std::move(crcs);
    return;
  }
  if (hot_lru_.keys.size() >= options_.hot_blocks) {
    Entry* last = &index_.at(hot_lru_.keys.back());
    while (hot_lru_.Spare(last->hot->lru)) last = &index_.at(hot_lru_.keys.back());
    CoolLocked(*last, out);
  }
  e.hot = std::make_unique<Hot>();
  e.hot->piece_crcs = std::move(crcs);
  e.hot->lru = hot_lru_.PushFront(it->first);
  ++e.version->hot;
}

void BlockCache::CoolLocked(Entry& e, Disposal* out) {
  hot_lru_.keys.erase(e.hot->lru.it);
  e.hot.reset();
  // A version's file is open only while it has hot blocks: open files stay within the bound.
  if (--e.version->hot == 0 && e.version->file != nullptr) {
    out->closing.push_back(std::move(e.version->file));
  }
}

void BlockCache::KeepOpen(const Key& key, uint64_t serial, std::shared_ptr<BlockFile> file) {
  std::lock_guard l(mu_);
  auto it = index_.find(key);
  if (it == index_.end() || it->second.serial != serial || it->second.hot == nullptr ||
      it->second.version->file != nullptr) {
    return;  // `file` is let go of by the caller, outside the lock
  }
  it->second.version->file = std::move(file);
}

std::nullopt_t BlockCache::Damaged(const Key& key, uint64_t serial, const Status& read) {
  Count(metrics_.misses);
  // Not found: evicted meanwhile, a plain miss.
  if (Forget(key, serial) && read.code() != Code::kNotFound) {
    S3M_WARN("cache: block {} of {} is damaged or unreadable; fetching it again", key.index,
             FileOf(key.version));
    Count(metrics_.errors);
  }
  return std::nullopt;
}

void BlockCache::Put(const std::string& version, uint64_t index, uint64_t object_size,
                     const char* data, uint64_t bytes, Reuse reuse) {
  if (bytes == 0 || bytes > options_.block_bytes) return;
  PutRun(version, index, object_size, data, bytes, reuse);
}

void BlockCache::PutRun(const std::string& version, uint64_t first, uint64_t object_size,
                        const char* data, uint64_t bytes, Reuse reuse) {
  const uint64_t bs = options_.block_bytes;
  std::optional<Key> base = KeyOf(version, first);
  if (bytes == 0 || !base || !KeyOf(version, first + (bytes - 1) / bs)) return;
  std::optional<DiskSpace> space;  // without a bound: what the file system has free
  if (options_.max_bytes == 0) {
    auto got = files_->Space();
    if (!got.ok()) return;
    space = *got;
  }
  std::vector<Offered> blocks;
  Disposal d;
  {
    std::lock_guard l(mu_);
    blocks = ReserveLocked(*base, data, bytes, space, &d);
    SetUsedGauge();
  }
  // Before the write: room made by removing this version's file is made before the write
  // creates it again.
  Dispose(d);
  if (blocks.empty()) return;

  std::vector<std::vector<uint32_t>> crcs;
  Status s = WriteBlocks(FileOf(base->version), version, object_size, blocks, reuse, &crcs);
  {
    std::lock_guard l(mu_);
    for (size_t i = 0; i < blocks.size(); ++i) {
      const Key key{base->version, blocks[i].index};
      busy_.erase(key);
      if (!s.ok()) {
        used_ -= DiskBytes(blocks[i].bytes);
        ReleaseLocked(key, &d);  // what the write got onto the disk is freed
        continue;
      }
      auto [it, added] = index_.try_emplace(key);
      Entry& e = it->second;
      e.data_bytes = blocks[i].bytes;
      e.lru = lru_.PushFront(key);
      e.serial = ++serials_;
      e.object_size = object_size;
      e.version = &versions_.at(key.version);
      if (!crcs.empty()) MakeHotLocked(it, std::move(crcs[i]), &d);
      Count(metrics_.written_bytes, blocks[i].bytes);
    }
    if (!s.ok()) {
      Count(metrics_.errors, blocks.size());
      S3M_DEBUG("cache: {} blocks from {} of {} not kept: {}", blocks.size(), blocks[0].index,
                FileOf(base->version), s.ToString());
    }
    SetUsedGauge();
  }
  Dispose(d);
}

std::vector<BlockCache::Offered> BlockCache::ReserveLocked(const Key& base, const char* data,
                                                          uint64_t bytes,
                                                          const std::optional<DiskSpace>& space,
                                                          Disposal* d) {
  std::vector<Offered> blocks;
  if (removing_.count(base.version) != 0) return blocks;
  const uint64_t bs = options_.block_bytes;
  uint64_t incoming = 0;
  for (uint64_t at = 0; at < bytes; at += bs) {
    const Key key{base.version, base.index + at / bs};
    if (index_.count(key) != 0 || busy_.count(key) != 0) continue;
    blocks.push_back({key.index, data + at, std::min(bs, bytes - at)});
    incoming += DiskBytes(blocks.back().bytes);
  }
  if (blocks.empty()) return blocks;  // all there already: no room to make
  // What `in` bytes more would take from the share of the file system kept free.
  auto deficit = [&](uint64_t in) -> uint64_t {
    if (!space) return 0;
    const auto keep_free =
        static_cast<uint64_t>(options_.min_free_fraction * static_cast<double>(space->total_bytes));
    return space->free_bytes < keep_free + in ? keep_free + in - space->free_bytes : 0;
  };
  uint64_t freed = 0;
  MakeRoomLocked(incoming, deficit(incoming), &freed, d);
  // What does not fit even so: the run's first blocks go, as they would one at a time.
  size_t dropped = 0;
  while (dropped < blocks.size() &&
         (space ? freed < deficit(incoming) : used_ + incoming > options_.max_bytes)) {
    incoming -= DiskBytes(blocks[dropped++].bytes);
  }
  blocks.erase(blocks.begin(), blocks.begin() + static_cast<long>(dropped));
  for (const Offered& b : blocks) busy_.insert(Key{base.version, b.index});
  used_ += incoming;
  if (!blocks.empty()) versions_[base.version].blocks += blocks.size();
  return blocks;
}

Status BlockCache::WriteBlocks(const std::string& name, const std::string& version,
                               uint64_t object_size, const std::vector<Offered>& blocks,
                               Reuse reuse, std::vector<std::vector<uint32_t>>* piece_crcs) {
  // A block a random read fetched is hot: its piece CRCs are taken in the pass that takes
  // its CRC.
  std::vector<TrailerPage> trailers(blocks.size());  // zeros past each trailer
  if (reuse == Reuse::kSoon) piece_crcs->resize(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    const Offered& b = blocks[i];
    uint32_t crc = 0;
    if (reuse == Reuse::kSoon) {
      (*piece_crcs)[i] = PieceCrcs(b.data, b.bytes, &crc);
    } else {
      crc = Crc32c(0, b.data, b.bytes);
    }
    EncodeBlockTrailer(version, b.index, object_size, crc, static_cast<uint32_t>(b.bytes),
                       trailers[i].bytes);
  }
  // A whole block and its trailer fill its slot, so adjacent whole blocks are one write. A
  // short block (an object's last) ends a run; its trailer is written after it.
  const PageCache cache = reuse == Reuse::kLater ? PageCache::kBypass : PageCache::kKeep;
  constexpr size_t kMaxRunPieces = 512;  // within IOV_MAX
  std::vector<iovec> run;
  uint64_t run_at = 0;
  Status s;
  auto write = [&] {
    if (!run.empty() && s.ok()) s = files_->WriteAt(name, run_at, run, cache);
    run.clear();
  };
  for (size_t i = 0; i < blocks.size() && s.ok(); ++i) {
    const Offered& b = blocks[i];
    const bool adjacent = !run.empty() && b.index == blocks[i - 1].index + 1;
    if (!adjacent || run.size() + 2 > kMaxRunPieces) {
      write();
      run_at = SlotAt(b.index);
    }
    run.push_back({const_cast<char*>(b.data), b.bytes});
    if (b.bytes == padded_block_) {
      run.push_back({trailers[i].bytes, kDiskUnit});
    } else {
      write();
      run_at = TrailerAt(b.index);
      run.push_back({trailers[i].bytes, kDiskUnit});
      write();
    }
  }
  write();
  return s;
}

void BlockCache::MakeRoomLocked(uint64_t incoming, uint64_t free_deficit, uint64_t* freed,
                                Disposal* out) {
  uint64_t got = 0;
  while (!lru_.keys.empty()) {
    bool over = options_.max_bytes != 0 && used_ + incoming > options_.max_bytes;
    if (!over && got >= free_deficit) break;
    auto it = index_.find(lru_.keys.back());
    if (lru_.Spare(it->second.lru)) continue;
    got += DiskBytes(it->second.data_bytes);
    EraseLocked(it, out);
    Count(metrics_.evictions);
  }
  if (freed != nullptr) *freed = got;
}

void BlockCache::EraseLocked(Index::iterator it, Disposal* out) {
  Entry& e = it->second;
  if (e.hot != nullptr) CoolLocked(e, out);
  used_ -= DiskBytes(e.data_bytes);
  lru_.keys.erase(e.lru.it);
  const Key key = it->first;
  index_.erase(it);
  ReleaseLocked(key, out);
}

void BlockCache::ReleaseLocked(const Key& key, Disposal* out) {
  auto v = versions_.find(key.version);
  if (--v->second.blocks > 0) {
    busy_.insert(key);  // not written again until punched
    out->punch.push_back(key);
    return;
  }
  if (v->second.file != nullptr) out->closing.push_back(std::move(v->second.file));
  versions_.erase(v);
  removing_.insert(key.version);  // nothing is written into it until it is gone
  out->remove.push_back(key.version);
}

void BlockCache::Dispose(Disposal& d) {
  d.closing.clear();  // before removing: a file's space is freed with its last descriptor
  if (d.punch.empty() && d.remove.empty()) return;
  for (const Key& k : d.punch) {
    if (std::find(d.remove.begin(), d.remove.end(), k.version) != d.remove.end()) continue;
    Status s = files_->Punch(FileOf(k.version), SlotAt(k.index), slot_bytes_);
    if (!s.ok()) S3M_DEBUG("cache: block {} not freed: {}", k.index, s.ToString());
  }
  for (const Digest& v : d.remove) files_->Remove(FileOf(v));
  {
    std::lock_guard l(mu_);
    for (const Key& k : d.punch) busy_.erase(k);
    for (const Digest& v : d.remove) removing_.erase(v);
  }
  d.punch.clear();
  d.remove.clear();
}

bool BlockCache::Forget(const Key& key, uint64_t serial) {
  Disposal d;
  {
    std::lock_guard l(mu_);
    auto it = index_.find(key);
    if (it == index_.end() || it->second.serial != serial) return false;
    EraseLocked(it, &d);
    SetUsedGauge();
  }
  Dispose(d);
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
  return hot_lru_.keys.size();
}

size_t BlockCache::open_files() const {
  std::lock_guard l(mu_);
  size_t n = 0;
  for (const auto& [digest, v] : versions_) n += v.file != nullptr ? 1 : 0;
  return n;
}

}  // namespace s3m
