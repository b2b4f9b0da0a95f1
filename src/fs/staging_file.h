// StagingFile: the local bytes of a staged file: a sparse, unlinked file in the staging
// directory (O_TMPFILE where the file system has it, else created and unlinked at once),
// so nothing is left behind by a crash. Holes and bytes past the end read as zeros.
// Thread-safe: pread/pwrite at offsets; Truncate is serialized by the owner.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace s3m {

class StagingFile {
 public:
  static Result<std::unique_ptr<StagingFile>> Create(const std::string& dir);
  ~StagingFile();
  StagingFile(const StagingFile&) = delete;
  StagingFile& operator=(const StagingFile&) = delete;

  Status Write(uint64_t offset, const char* data, uint64_t size);
  // Fills all `size` bytes: what the file holds, zeros past its end.
  Status Read(uint64_t offset, char* out, uint64_t size) const;
  Status Truncate(uint64_t size);

 private:
  explicit StagingFile(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace s3m
