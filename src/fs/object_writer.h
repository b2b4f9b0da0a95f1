// ObjectWriter: uploads one new object from sequential writes, as the data arrives.
//
// Data is copied once, from the write call into a part buffer (from the BufferPool,
// charged to the MemoryBudget); full parts are uploaded in parallel as multipart upload
// parts with CRC32C. The multipart upload is created only when the first part fills; an
// object smaller than one part is sent with a single PutObject at Finish(). The part size
// grows when the file would otherwise exceed 10,000 parts (S3's limit). When the budget
// is exhausted, Write() blocks until uploads free memory (backpressure; the caller's
// buffer is only valid during the call, so it must be copied before returning).
//
// Finish() completes the object and reports any error from any part; after an error the
// multipart upload is aborted. Write/Finish/Abort calls on one writer are serialized by
// the caller (one writer per file); completions run on the client's threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "memory/memory_budget.h"
#include "s3/object_client.h"

namespace s3m {

struct WriterOptions {
  uint64_t write_part_size = 8 << 20;  // --write-part-size
  int max_parts_in_flight = 8;
  ChecksumAlgorithm checksum = ChecksumAlgorithm::kCrc32c;
  std::string storage_class;
  bool if_none_match = false;  // create only if absent
};

class ObjectWriter {
 public:
  ObjectWriter(ObjectClient* client, BufferPool* pool, WriterOptions options, std::string key);
  ~ObjectWriter();  // aborts an unfinished upload

  // Appends `size` bytes at `offset`, which must equal bytes_written() (else
  // kInvalidArgument), copying them into part buffers before it returns. Returns the
  // byte count, or the first upload error seen so far. May block for memory.
  Result<uint64_t> Write(uint64_t offset, const char* data, uint64_t size);

  // Uploads what remains and completes the object. `done` gets the new object's info
  // (key, size, ETag) or the error; the writer accepts no more writes afterwards.
  void Finish(std::function<void(Result<ObjectInfo>)> done);

  // Abandons the upload (aborting any multipart upload).
  void Abort();

  uint64_t bytes_written() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace s3m
