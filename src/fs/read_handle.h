// ReadHandle: a file open for reading one version of its object (the ETag seen at open),
// through a prefetching ObjectReader. A read that finds the object changed or gone fails
// with kStale and expires the inode's cached attributes, so the next open asks S3.
// Threading: as FileHandle; the reader serializes itself.
#pragma once

#include <memory>
#include <string>

#include "fs/file_handle.h"

namespace s3m {

class ReadHandle final : public FileHandle {
 public:
  ReadHandle(std::shared_ptr<Inode> inode, std::unique_ptr<ObjectReader> reader)
      : FileHandle(std::move(inode)), reader_(std::move(reader)) {}

  void Read(uint64_t offset, uint64_t size, std::function<void(Result<ReadData>)> done) override;
  void Moved(const std::string& key, const std::string& etag) override {
    reader_->Retarget(key, etag);
  }

 private:
  const std::unique_ptr<ObjectReader> reader_;
};

}  // namespace s3m
