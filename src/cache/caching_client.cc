#include "cache/caching_client.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "cache/block_layout.h"
#include "common/disk_wait.h"
#include "metrics/registry.h"

namespace s3m {
namespace {

struct Free {
  void operator()(char* p) const { std::free(p); }
};
// A widened GET's buffer: page-aligned, so that the blocks a writer keeps from it can go
// past the page cache (O_DIRECT).
using OwnBuffer = std::unique_ptr<char, Free>;

OwnBuffer NewOwnBuffer(uint64_t bytes) {
  void* p = std::aligned_alloc(block_layout::kDiskUnit, block_layout::RoundUp(bytes));
  if (p == nullptr) throw std::bad_alloc();
  return OwnBuffer(static_cast<char*>(p));
}

}  // namespace

struct CachingClient::Get {
  GetObjectParams p;
  Callback<GetObjectResult> done;
  ObjectVersion version;
  uint64_t served = 0;       // bytes from p.offset answered from the cache
  uint64_t object_size = 0;  // once known
  uint64_t fetch_from = 0;   // the widened GET
  uint64_t fetch_bytes = 0;
  OwnBuffer own;  // its buffer, unless it lands in p.buffer
};

CachingClient::CachingClient(ObjectClient* inner, BlockStore* store, std::string source,
                             int threads, CachingOptions options)
    : ForwardingClient(inner),
      cache_(store),
      source_(std::move(source)),
      max_backlog_(options.max_backlog_bytes),
      skipped_(options.skipped_bytes),
      writers_(options.writers, "cache-write"),
      workers_(threads, "cache-read") {}

CachingClient::~CachingClient() = default;

void CachingClient::GetObject(GetObjectParams p, Callback<GetObjectResult> done) {
  // Without an ETag the version is unknown, so nothing can be served or kept.
  if (p.if_match.empty() || p.length == 0) return inner()->GetObject(std::move(p), std::move(done));
  const ObjectVersion& v = VersionOf(p.key, p.if_match, p.offset + p.length);
  if (!cache_->Wants(v)) return inner()->GetObject(std::move(p), std::move(done));
  auto g = std::make_shared<Get>();
  g->version = v;
  g->p = std::move(p);
  g->done = std::move(done);
  // A random read (a block or less) asked on a thread that may wait is served right here:
  // a hit then costs no hand-off. Parts of a stream go to the workers, so that a reader
  // is never held by the disk while it could be answered from memory.
  if (ThreadMayWaitOnDisk() && g->p.length <= cache_->block_bytes()) {
    const bool missed = TakeMiss(g->version.id, g->p.offset / cache_->block_bytes());
    return missed ? Fetch(std::move(g)) : Serve(std::move(g));
  }
  workers_.Post([this, g] { Serve(g); });
}

std::optional<uint64_t> CachingClient::GetNow(const GetNowParams& p) {
  const uint64_t bs = cache_->block_bytes();
  if (p.if_match.empty() || p.length == 0 || !ThreadMayWaitOnDisk()) return std::nullopt;
  const uint64_t index = p.offset / bs, start = index * bs;
  if (p.offset + p.length > start + bs) return std::nullopt;  // two blocks: GetObject's
  const ObjectVersion& v = VersionOf(p.key, p.if_match, p.offset + p.length);
  if (!cache_->Wants(v)) return std::nullopt;
  auto hit = cache_->GetRange(v, index, p.offset - start, p.offset + p.length - start, p.buffer);
  if (!hit) {
    NoteMiss(v.id, index);
    return std::nullopt;
  }
  const uint64_t have = std::min(p.offset + p.length, start + hit->bytes);
  return have > p.offset ? have - p.offset : 0;
}

namespace {
// The block GetNow last missed on this thread: the GetObject that follows for it (the
// reader's fallback) fetches it without asking the store a second time.
struct LastMiss {
  std::string id;
  uint64_t index = 0;
};
thread_local LastMiss last_miss;
}  // namespace

void CachingClient::NoteMiss(const std::string& id, uint64_t index) {
  last_miss.id = id;
  last_miss.index = index;
}

bool CachingClient::TakeMiss(const std::string& id, uint64_t index) {
  if (last_miss.id.empty()) return false;
  const bool same = last_miss.index == index && last_miss.id == id;
  last_miss.id.clear();
  return same;
}

const ObjectVersion& CachingClient::VersionOf(std::string_view key, std::string_view etag,
                                              uint64_t read_end) {
  // A SHA-256 costs a cache hit more than its disk read does: each thread remembers its last
  // (a random reader asks for the same version again and again).
  thread_local std::string last_source;
  thread_local ObjectVersion last;
  if (last.key != key || last.etag != etag || last_source != source_) {
    last.key = key;
    last.etag = etag;
    last.id = ObjectVersionId(source_, last.key, last.etag);
    last_source = source_;
  }
  last.read_end = read_end;
  return last;
}

void CachingClient::Serve(std::shared_ptr<Get> g) {
  const uint64_t bs = cache_->block_bytes();
  const GetObjectParams& p = g->p;
  const uint64_t end = p.offset + p.length;
  bool at_object_end = false;
  for (uint64_t b = p.offset / bs; b * bs < end; ++b) {
    const uint64_t start = b * bs;
    const uint64_t lo = std::max(p.offset, start), hi = std::min(end, start + bs);
    char* into = p.buffer + (lo - p.offset);
    auto hit = lo == start && hi == start + bs
                   ? cache_->Get(g->version, b, into)  // a whole block of the request
                   : cache_->GetRange(g->version, b, lo - start, hi - start, into);
    if (!hit) break;
    g->object_size = hit->object_size;
    const uint64_t have = std::min(hi, start + hit->bytes);
    g->served = have > p.offset ? have - p.offset : 0;
    if (start + hit->bytes >= hit->object_size) {
      at_object_end = true;
      break;
    }
    if (p.on_progress) p.on_progress(g->served);
  }
  if (g->served == p.length || at_object_end) {
    return g->done(GetObjectResult{g->served, g->object_size, p.if_match, nullptr});
  }
  Fetch(std::move(g));
}

void CachingClient::Fetch(std::shared_ptr<Get> g) {
  const uint64_t bs = cache_->block_bytes();
  const GetObjectParams& p = g->p;
  const uint64_t end = p.offset + p.length;
  const uint64_t from = (p.offset + g->served) / bs * bs;
  const uint64_t to = (end + bs - 1) / bs * bs;
  g->fetch_from = from;
  g->fetch_bytes = to - from;
  GetObjectParams q;
  q.key = p.key;
  q.offset = from;
  q.length = to - from;
  q.if_match = p.if_match;
  if (from >= p.offset && to <= end) {
    q.buffer = p.buffer + (from - p.offset);  // block-aligned: straight into the reader's
    if (p.on_progress) {
      q.on_progress = [g, lead = from - p.offset](uint64_t bytes) { g->p.on_progress(lead + bytes); };
    }
  } else {
    g->own = NewOwnBuffer(q.length);
    q.buffer = g->own.get();
  }
  inner()->GetObject(std::move(q), [this, g](Result<GetObjectResult> r) {
    workers_.Post([this, g, r = std::move(r)]() mutable { Filled(g, std::move(r)); });
  });
}

void CachingClient::Filled(std::shared_ptr<Get> g, Result<GetObjectResult> r) {
  if (!r.ok()) return g->done(r.status());
  const GetObjectParams& p = g->p;
  const uint64_t from = g->fetch_from;
  const uint64_t got = r->bytes;
  const uint64_t size = r->object_size;
  const uint64_t end = std::min(p.offset + p.length, from + got);
  const uint64_t first = std::max(p.offset + g->served, from);
  const uint64_t total = end > p.offset ? end - p.offset : 0;
  GetObjectResult result{total, size, r->etag, nullptr};
  if (g->own) {
    if (end > first) {
      std::memcpy(p.buffer + (first - p.offset), g->own.get() + (first - from), end - first);
    }
    if (p.length > cache_->block_bytes()) {
      // A part of a stream that began off the block grid (after a seek), or a long read:
      // written behind too.
      const char* base = g->own.get();
      WriteBehind(g->version, std::shared_ptr<char>(std::move(g->own)), base, from, got, size);
      return g->done(std::move(result));
    }
    // A random read's block is kept before the reader is told, so that the neighbour read
    // that follows finds it.
    Keep(g->version, g->own.get(), from, got, size, Reuse::kSoon);
    return g->done(std::move(result));
  }
  // A stream's part, in the reader's buffer: the reader is told first, and its blocks are
  // written behind it while the reader's buffer is held.
  const char* base = p.buffer + (from - p.offset);
  // Held by the writer only: the reader's buffer goes back as soon as it is written.
  std::shared_ptr<const void> owner = std::move(g->p.buffer_owner);
  if (owner == nullptr) {  // a caller that cannot lend its buffer: kept before it is told
    Keep(g->version, base, from, got, size, Reuse::kLater);
    return g->done(std::move(result));
  }
  WriteBehind(g->version, std::move(owner), base, from, got, size);
  g->done(std::move(result));
}

void CachingClient::WriteBehind(const ObjectVersion& version, std::shared_ptr<const void> owner,
                                const char* base, uint64_t from, uint64_t got, uint64_t size) {
  // Past the backlog's bound the blocks are not kept (the next read of them fetches and
  // keeps them).
  if (!TakeBacklog(got)) return;
  writers_.Post([this, version, owner = std::move(owner), base, from, got, size]() mutable {
    Keep(version, base, from, got, size, Reuse::kLater);
    owner.reset();  // the buffer is let go of before the backlog shrinks
    std::lock_guard l(backlog_mu_);
    backlog_ -= got;
    if (backlog_ == 0) written_.notify_all();
  });
}

bool CachingClient::TakeBacklog(uint64_t bytes) {
  std::lock_guard l(backlog_mu_);
  if (backlog_ != 0 && backlog_ + bytes > max_backlog_) {
    if (skipped_ != nullptr) skipped_->Add(bytes);
    return false;
  }
  backlog_ += bytes;
  return true;
}

void CachingClient::Keep(const ObjectVersion& version, const char* base, uint64_t from,
                         uint64_t got, uint64_t size, Reuse reuse) {
  // Every whole block fetched, and the object's last block when it came: one run.
  const uint64_t bs = cache_->block_bytes();
  if (got == 0 || from >= size) return;
  const uint64_t end = std::min(from + got, size);
  const uint64_t kept = end == size ? end - from : (end - from) / bs * bs;
  if (kept > 0) cache_->PutRun(version, from / bs, size, base, kept, reuse);
}

void CachingClient::WaitForWrites() {
  std::unique_lock l(backlog_mu_);
  written_.wait(l, [this] { return backlog_ == 0; });
}

}  // namespace s3m
