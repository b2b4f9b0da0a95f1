#include "fs/fs_core.h"

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

void FsCore::BeginUpload() {
  std::lock_guard l(uploads_mu_);
  uploads_in_flight_++;
}

void FsCore::EndUpload() {
  std::lock_guard l(uploads_mu_);
  uploads_in_flight_--;
  uploads_cv_.notify_all();
}

void FsCore::WaitForUploads() {
  std::unique_lock l(uploads_mu_);
  uploads_cv_.wait(l, [this] { return uploads_in_flight_ == 0; });
}

}  // namespace s3m
