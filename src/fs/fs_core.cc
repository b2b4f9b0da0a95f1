#include "fs/fs_core.h"

#include "fs/posix_meta.h"
#include "metrics/registry.h"

namespace s3m {

FsCore::FsCore(ObjectClient* c, BufferPool* p, FsOptions o)
    : client(c),
      pool(p),
      options(std::move(o)),
      clock(options.clock != nullptr ? options.clock : RealClock::Get()),
      mount_time_sec(WallSeconds()),
      table(options.prefix, clock) {}

int64_t FsCore::WallSeconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock->Now().time_since_epoch()).count();
}

bool FsCore::ReserveStaging(uint64_t bytes) {
  uint64_t now = staged_bytes_.load(std::memory_order_relaxed);
  do {
    if (now + bytes > options.staging_limit_bytes) return false;
  } while (!staged_bytes_.compare_exchange_weak(now, now + bytes, std::memory_order_relaxed));
  return true;
}

void FsCore::ReleaseStaging(uint64_t bytes) {
  staged_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

void FsCore::BeginUpload() {
  std::lock_guard l(uploads_mu_);
  uploads_in_flight_++;
  if (options.uploads_gauge != nullptr) options.uploads_gauge->Add(1);
}

void FsCore::EndUpload() {
  std::lock_guard l(uploads_mu_);
  uploads_in_flight_--;
  if (options.uploads_gauge != nullptr) options.uploads_gauge->Add(-1);
  uploads_cv_.notify_all();
}

void FsCore::WaitForUploads() {
  std::unique_lock l(uploads_mu_);
  uploads_cv_.wait(l, [this] { return uploads_in_flight_ == 0; });
}

Metadata FsCore::MetaToStore(const InodeState& s) const {
  Metadata m = s.meta;
  if (options.posix && !s.mtime_explicit) SetMtimeMeta(m, WallSeconds());
  return m;
}

}  // namespace s3m
