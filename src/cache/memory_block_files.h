// MemoryBlockFiles: BlockFiles in memory, for tests: it can refuse writes (a full disk),
// damage a file, and report any free space. Holes are zeros; the disk a file takes is
// counted in 4 KiB pages written and not punched since.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "cache/block_files.h"

namespace s3m {

class MemoryBlockFiles : public BlockFiles {
 public:
  Status WriteAt(const std::string& name, uint64_t offset, const std::vector<iovec>& pieces,
                 PageCache page_cache) override;
  Status Punch(const std::string& name, uint64_t offset, uint64_t length) override;
  // Reads go to the file of that name as it is at each read (a damaged file reads damaged).
  Result<std::shared_ptr<BlockFile>> Open(const std::string& name) override;
  void Remove(const std::string& name) override;
  std::vector<StoredFile> List() override;
  Result<DiskSpace> Space() override;

  void FailWrites(bool fail);
  // While held, Write waits (a disk that is behind).
  void HoldWrites(bool hold);
  void SetSpace(DiskSpace space);
  // Flips one byte of file `name` at `offset`, or cuts it to `size` bytes.
  void Damage(const std::string& name, uint64_t offset);
  void Cut(const std::string& name, uint64_t size);
  std::map<std::string, std::string> files() const;
  uint64_t allocated_bytes() const;  // of all files
  uint64_t bytes_read() const;  // by reads, since the start
  size_t writes() const;            // WriteAt calls that wrote
  size_t bypassing_writes() const;  // of them, asked to bypass the page cache

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> files_;  // GUARDED_BY(mu_)
  std::map<std::string, std::set<uint64_t>> pages_;  // GUARDED_BY(mu_), allocated, by file
  std::map<std::string, int64_t> written_;    // GUARDED_BY(mu_), a write counter as mtime
  int64_t clock_ = 0;                         // GUARDED_BY(mu_)
  bool fail_ = false;                         // GUARDED_BY(mu_)
  bool hold_ = false;                         // GUARDED_BY(mu_)
  std::condition_variable released_;
  uint64_t bytes_read_ = 0;                   // GUARDED_BY(mu_)
  size_t writes_ = 0;                         // GUARDED_BY(mu_)
  size_t bypassing_writes_ = 0;               // GUARDED_BY(mu_)

  class File;
  Result<uint64_t> ReadFile(const std::string& name, uint64_t offset,
                            const std::vector<iovec>& pieces);
  Result<uint64_t> NextData(const std::string& name, uint64_t offset);
  DiskSpace space_{1ULL << 40, 1ULL << 40};   // GUARDED_BY(mu_)
};

}  // namespace s3m
