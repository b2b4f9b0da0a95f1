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
// Part sizes: write_part_size (at least S3's 5 MiB minimum) for parts 1..1000, then
// doubling every 1000 parts (capped at S3's 5 GiB part maximum), so 10,000 parts reach
// 1023 x 1000 x write_part_size: 7.8 TiB with the default 8 MiB, more than S3's 5 TiB
// object maximum. See WritePartSize().
//
// Finish() completes the object and reports any error from any part; after an error the
// multipart upload is aborted. Write/Finish/Abort calls on one writer are serialized by
// the caller (one writer per file); completions run on the client's threads.
//
// Memory: a writer holds at most max_parts_in_flight + 1 part buffers (those uploading
// and the one filling); each is taken from the BufferPool (charged to the budget) and
// released when its UploadPart completes, so a retry inside the client reuses it.
// Lock order: ObjectWriter::Impl::mu_ is a leaf; no client call, budget wait or callback
// runs under it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "memory/memory_budget.h"
#include "s3/object_client.h"

namespace s3m {

// S3's multipart limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
inline constexpr uint64_t kMinPartSize = 5ull << 20;  // except the last part
inline constexpr uint64_t kMaxPartSize = 5ull << 30;  // 5 GiB
inline constexpr int kMaxParts = 10000;
inline constexpr uint64_t kMaxObjectSize = 5ull << 40;  // 5 TiB
// Parts of one size before the size doubles (10 steps cover the 10,000 parts).
inline constexpr int kPartsPerSizeStep = 1000;

// The size of part `part_number` (1-based) for a base part size: see the file comment.
uint64_t WritePartSize(uint64_t base, int part_number);

struct WriterOptions {
  uint64_t write_part_size = 8 << 20;  // --write-part-size
  int max_parts_in_flight = 8;
  ChecksumAlgorithm checksum = ChecksumAlgorithm::kCrc32c;
  std::string storage_class;
  bool if_none_match = false;  // create only if absent
  // Test seam, empty in production: runs inside Finish() after the last part is handed
  // to the upload and before the upload is marked finishing. A part completing in that
  // window once completed the upload without the last part; tests release parts here.
  std::function<void()> finish_hook_for_test;
};

class ObjectWriter {
 public:
  ObjectWriter(ObjectClient* client, BufferPool* pool, WriterOptions options, std::string key);
  ~ObjectWriter();  // aborts an unfinished upload

  // Checks options before any writer is made (write_part_size >= kMinPartSize, ...), so
  // the CLI can reject them at start-up; a writer built with bad options fails every call.
  static Status ValidateOptions(const WriterOptions& options);

  // Appends `size` bytes at `offset`, which must equal bytes_written() (else
  // kInvalidArgument), copying them into part buffers before it returns. Returns the
  // byte count, or the first upload error seen so far. May block for memory.
  Result<uint64_t> Write(uint64_t offset, const char* data, uint64_t size);

  // Uploads what remains and completes the object. `done` gets the new object's info
  // (key, size, ETag, the metadata stored) or the error; the writer accepts no more writes
  // afterwards.
  void Finish(std::function<void(Result<ObjectInfo>)> done);

  // Abandons the upload (aborting any multipart upload).
  void Abort();

  // While nothing has left for S3 (all bytes are in the first part, still filling), copies
  // them into `out` and abandons the writer; false once a part was sent or on an error.
  bool TakeBack(std::string* out);

  // The user metadata the object is stored with (x-amz-meta-*). Taken by the first request
  // that creates the object (CreateMultipartUpload, when the first part fills, or the
  // single PutObject at Finish); returns false, changing nothing, once that was sent.
  bool SetMetadata(Metadata metadata);

  uint64_t bytes_written() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace s3m
