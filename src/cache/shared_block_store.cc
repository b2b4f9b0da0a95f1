#include "cache/shared_block_store.h"

#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <utility>

#include "cache/block_trailer.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "metrics/registry.h"
#include "s3/sigv4.h"

namespace s3m {
namespace {

constexpr char kMetadataName[] = "_s3mount_cache_metadata";

void Count(metrics::Counter* c, uint64_t n = 1) {
  if (c != nullptr) c->Add(n);
}

std::string Prefix(const std::string& source_bucket, uint64_t block_bytes) {
  std::string in(kBlockTrailerMagic, sizeof kBlockTrailerMagic - 1);
  for (int shift = 56; shift >= 0; shift -= 8) {
    in.push_back(static_cast<char>((block_bytes >> shift) & 0xff));  // big-endian
  }
  in += source_bucket;
  return Sha256Hex(in.data(), in.size());
}

}  // namespace

CacheMetrics RegisterSharedCacheMetrics(metrics::Registry* r) {
  CacheMetrics m;
  m.hits =
      r->AddCounter("s3mount_shared_cache_hits_total", "Blocks served from the --cache-xz bucket");
  m.misses = r->AddCounter("s3mount_shared_cache_misses_total",
                           "Blocks looked for in the --cache-xz bucket and not there (or damaged)");
  m.hit_bytes = r->AddCounter("s3mount_shared_cache_hit_bytes_total",
                              "Bytes served from the --cache-xz bucket");
  m.written_bytes = r->AddCounter("s3mount_shared_cache_written_bytes_total",
                                  "Bytes of blocks written into the --cache-xz bucket");
  m.errors = r->AddCounter("s3mount_shared_cache_errors_total",
                           "Requests to the --cache-xz bucket that failed and damaged blocks found "
                           "(each a miss or a block not kept)");
  return m;
}

SharedBlockStore::SharedBlockStore(ObjectClient* client, std::string source_bucket,
                                   SharedStoreOptions options, CacheMetrics metrics)
    : client_(client),
      source_bucket_(std::move(source_bucket)),
      options_(options),
      metrics_(metrics),
      prefix_(Prefix(source_bucket_, options.block_bytes)) {}

SharedBlockStore::~SharedBlockStore() {
  std::unique_lock l(mu_);
  idle_.wait(l, [this] { return puts_in_flight_ == 0; });
}

std::string SharedBlockStore::BlockKey(const std::string& key, const std::string& etag,
                                       uint64_t index) const {
  std::string object = key + etag;
  return fmt::format("{}/{}/{:010}", prefix_, Sha256Hex(object.data(), object.size()), index);
}

Status SharedBlockStore::Probe() {
  std::string text = fmt::format(
      "s3mount shared cache (--cache-xz)\nformat={}\nsource_bucket={}\nblock_size={}\n"
      "max_object_size={}\n",
      kBlockTrailerMagic, source_bucket_, options_.block_bytes, options_.max_object_bytes);
  PutObjectParams p;
  p.key = prefix_ + "/" + kMetadataName;
  p.data = text.data();
  p.size = text.size();
  auto r = Wait<PutObjectResult>([&](auto cb) { client_->PutObject(std::move(p), cb); });
  return r.ok() ? Status::Ok() : r.status();
}

bool SharedBlockStore::Kept(const ObjectVersion& v, uint64_t index) const {
  return Wants(v) && index * options_.block_bytes < options_.max_object_bytes;
}

std::optional<BlockHit> SharedBlockStore::Get(const ObjectVersion& v, uint64_t index, char* out) {
  if (!Kept(v, index)) return std::nullopt;  // a large object: never looked for
  const uint64_t room = options_.block_bytes + kBlockTrailerBytes;
  std::unique_ptr<char[]> body(new char[room]);
  GetObjectParams p;
  p.key = BlockKey(v.key, v.etag, index);
  p.length = room;
  p.buffer = body.get();
  auto r = Wait<GetObjectResult>([&](auto cb) { client_->GetObject(std::move(p), cb); });
  if (!r.ok()) {
    if (r.status().code() != Code::kNotFound) Failed("GET of a block", r.status());
    Count(metrics_.misses);
    return std::nullopt;
  }
  // The whole cache object came, and its trailer names this block of this version.
  const uint64_t n = r->bytes;
  std::optional<BlockTrailer> t;
  if (n >= kBlockTrailerBytes && r->object_size == n) {
    t = DecodeBlockTrailer(body.get() + n - kBlockTrailerBytes);
  }
  const uint64_t data = t ? n - kBlockTrailerBytes : 0;
  if (!t || t->object_size > options_.max_object_bytes ||
      !BlockMatches(*t, ObjectVersionId(source_bucket_, v.key, v.etag), index,
                    Crc32c(0, body.get(), data), data, options_.block_bytes)) {
    S3M_WARN("shared cache: block {} of {} is damaged or not this version's; fetching it again",
             index, v.key);
    Count(metrics_.errors);
    Count(metrics_.misses);
    return std::nullopt;
  }
  std::memcpy(out, body.get(), data);
  Count(metrics_.hits);
  Count(metrics_.hit_bytes, data);
  return BlockHit{data, t->object_size};
}

void SharedBlockStore::Put(const ObjectVersion& v, uint64_t index, uint64_t object_size,
                           const char* data, uint64_t bytes, Reuse /*reuse*/) {
  if (object_size > options_.max_object_bytes || bytes == 0 || bytes > options_.block_bytes ||
      index * options_.block_bytes + bytes > object_size) {
    return;
  }
  {
    std::lock_guard l(mu_);
    if (puts_in_flight_ >= options_.max_puts_in_flight) return;
    ++puts_in_flight_;
  }
  // The block is copied: the caller's buffer goes back to its reader at once.
  auto body = std::make_shared<std::string>(bytes + kBlockTrailerBytes, '\0');
  std::memcpy(body->data(), data, bytes);
  EncodeBlockTrailer(ObjectVersionId(source_bucket_, v.key, v.etag), index, object_size,
                     Crc32c(0, data, bytes), static_cast<uint32_t>(bytes), body->data() + bytes);
  PutObjectParams p;
  p.key = BlockKey(v.key, v.etag, index);
  p.data = body->data();
  p.size = body->size();
  p.checksum = ChecksumAlgorithm::kCrc32c;  // the server refuses a body damaged on the way
  client_->PutObject(std::move(p), [this, body, bytes](Result<PutObjectResult> r) {
    PutDone(r.ok() ? Status::Ok() : r.status(), bytes);
  });
}

void SharedBlockStore::Failed(const char* what, const Status& s) {
  Count(metrics_.errors);
  // Once: a cache bucket that stopped answering would otherwise log every block.
  if (!warned_.exchange(true)) {
    S3M_WARN(
        "shared cache: {} failed: {} (reads go to the mounted bucket; further cache "
        "errors are counted in s3mount_shared_cache_errors_total)",
        what, s.ToString());
  } else {
    S3M_DEBUG("shared cache: {} failed: {}", what, s.ToString());
  }
}

void SharedBlockStore::PutDone(const Status& s, uint64_t bytes) {
  if (s.ok()) {
    Count(metrics_.written_bytes, bytes);
  } else {
    Failed("PUT of a block", s);
  }
  std::lock_guard l(mu_);
  --puts_in_flight_;
  idle_.notify_all();
}

}  // namespace s3m
