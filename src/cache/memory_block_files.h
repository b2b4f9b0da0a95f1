// MemoryBlockFiles: BlockFiles in memory, for tests: it can refuse writes (a full disk),
// damage a file, and report any free space.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "cache/block_files.h"

namespace s3m {

class MemoryBlockFiles : public BlockFiles {
 public:
  Status Write(const std::string& name, const std::vector<iovec>& pieces) override;
  Result<uint64_t> Read(const std::string& name, uint64_t offset,
                        const std::vector<iovec>& pieces) override;
  void Remove(const std::string& name) override;
  std::vector<StoredFile> List() override;
  Result<DiskSpace> Space() override;

  void FailWrites(bool fail);
  void SetSpace(DiskSpace space);
  // Flips one byte of file `name` at `offset`, or cuts it to `size` bytes.
  void Damage(const std::string& name, uint64_t offset);
  void Cut(const std::string& name, uint64_t size);
  std::map<std::string, std::string> files() const;
  uint64_t bytes_read() const;  // by Read, since the start

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> files_;  // GUARDED_BY(mu_)
  std::map<std::string, int64_t> written_;    // GUARDED_BY(mu_), a write counter as mtime
  int64_t clock_ = 0;                         // GUARDED_BY(mu_)
  bool fail_ = false;                         // GUARDED_BY(mu_)
  uint64_t bytes_read_ = 0;                   // GUARDED_BY(mu_)
  DiskSpace space_{1ULL << 40, 1ULL << 40};   // GUARDED_BY(mu_)
};

}  // namespace s3m
