// ObjectClient: one asynchronous method per S3 operation on one bucket.
//
// Every method returns at once and calls `done` exactly once, on a thread of the
// implementation (for S3ObjectClient, its event-loop thread), possibly before the method
// returns. `done` must not block: hand long work to another thread. Implementations are
// thread-safe: any thread may start any operation.
//
// Buffers passed in params (PutObject/UploadPart data, GetObject destination) are owned
// by the caller and must stay valid until `done` runs. Bodies are never copied into
// intermediate buffers by the client: uploads are sent from the caller's memory and
// downloads are written straight into the caller's buffer (or lent, see
// GetObjectParams::accept_lent).
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace s3m {

// The operations, for per-operation counters and fault injection.
enum class S3Op {
  kHeadBucket,
  kHeadObject,
  kGetObject,
  kListObjects,
  kPutObject,
  kCreateMultipartUpload,
  kUploadPart,
  kCompleteMultipartUpload,
  kAbortMultipartUpload,
  kDeleteObject,
  kCopyObject,
  kUploadPartCopy,
  kCount,
};
const char* S3OpName(S3Op op);

template <typename T>
using Callback = std::function<void(Result<T>)>;

struct Empty {};

// User metadata (x-amz-meta-*): lower-case names without the "x-amz-meta-" prefix
// ("mode" -> "33188", as s3fs writes it). S3 limits the whole set to 2 KB.
using Metadata = std::map<std::string, std::string>;

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;           // with its quotes, as S3 sends it
  int64_t last_modified = 0;  // seconds since the epoch
  int32_t last_modified_nsec = 0;
  std::string storage_class;
  // Filled by HeadObject only (listings do not carry it).
  Metadata metadata;
};

struct HeadBucketParams {};

struct HeadObjectParams {
  std::string key;
};

struct GetObjectParams {
  std::string key;
  uint64_t offset = 0;
  uint64_t length = 0;     // bytes wanted; the response may be shorter at the end of the object
  std::string if_match;    // ETag; empty sends no If-Match
  char* buffer = nullptr;  // at least `length` bytes, owned by the caller
  // Called on the client's thread as bytes land in `buffer` (total so far). Optional.
  std::function<void(uint64_t)> on_progress;
  // The client may answer with bytes it already holds (GetObjectResult::lent) instead of
  // writing them into `buffer`. Only the in-memory client can, when told to (s3mount-memfs:
  // the FUSE path measured without a backend copy standing in for the network's).
  bool accept_lent = false;
  // Optional: owns `buffer`. A client given it may keep reading the bytes it wrote there
  // after `done`, for as long as it holds a copy (the data cache writes blocks behind).
  std::shared_ptr<const void> buffer_owner;
};

// A read GetNow may answer from what the client holds. The strings are borrowed for the call.
struct GetNowParams {
  std::string_view key;
  std::string_view if_match;  // the version read; GetNow answers nothing without it
  uint64_t offset = 0;
  uint64_t length = 0;
  char* buffer = nullptr;  // at least `length` bytes
};

struct GetObjectResult {
  uint64_t bytes = 0;        // bytes written into the buffer (or lent)
  uint64_t object_size = 0;  // total size of the object (from Content-Range)
  std::string etag;
  // Set only if accept_lent: the bytes are here, valid while this lives, and `buffer` was
  // not written.
  std::shared_ptr<const char> lent;
};

struct ListObjectsParams {
  std::string prefix;
  std::string delimiter;
  std::string continuation_token;
  std::string start_after;
  int max_keys = 1000;
};

struct ListObjectsResult {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;  // full prefixes, ending in the delimiter
  bool truncated = false;
  std::string next_continuation_token;
};

enum class ChecksumAlgorithm { kNone, kCrc32c };

struct PutObjectParams {
  std::string key;
  const char* data = nullptr;
  uint64_t size = 0;
  std::string storage_class;
  ChecksumAlgorithm checksum = ChecksumAlgorithm::kNone;
  bool if_none_match = false;  // create only if absent (If-None-Match: *)
  // Replace only if the current object has this ETag (If-Match); empty sends none. A
  // mismatch fails with kPreconditionFailed; no object at all with kNotFound (S3 answers
  // 404 NoSuchKey). A write that races another on S3 (409 ConditionalRequestConflict)
  // is kPreconditionFailed too.
  std::string if_match;
  Metadata metadata;         // sent as x-amz-meta-NAME
  std::string content_type;  // sent as Content-Type when not empty
};

struct PutObjectResult {
  std::string etag;
};

struct CreateMultipartUploadParams {
  std::string key;
  std::string storage_class;
  ChecksumAlgorithm checksum = ChecksumAlgorithm::kNone;
  Metadata metadata;  // the completed object's user metadata (x-amz-meta-NAME)
  std::string content_type;
};

struct CreateMultipartUploadResult {
  std::string upload_id;
};

struct UploadPartParams {
  std::string key;
  std::string upload_id;
  int part_number = 0;  // 1..10000
  const char* data = nullptr;
  uint64_t size = 0;
  ChecksumAlgorithm checksum = ChecksumAlgorithm::kNone;
};

struct CompletedPart {
  int part_number = 0;
  std::string etag;
  std::string checksum_crc32c;  // base64, empty when not used
};

struct UploadPartResult {
  CompletedPart part;
};

struct CompleteMultipartUploadParams {
  std::string key;
  std::string upload_id;
  std::vector<CompletedPart> parts;  // ascending part numbers
  // Preconditions on the destination key, checked when the upload completes, as for
  // PutObject; a failure leaves the upload in place (abort it). moto 5.2.1 honours
  // If-None-Match here but ignores If-Match.
  bool if_none_match = false;  // complete only if the key is absent (If-None-Match: *)
  std::string if_match;        // complete only if the current ETag is this (If-Match)
};

struct CompleteMultipartUploadResult {
  std::string etag;
};

struct AbortMultipartUploadParams {
  std::string key;
  std::string upload_id;
};

struct DeleteObjectParams {
  std::string key;
};

struct CopyObjectParams {
  std::string source_key;  // in the same bucket; any characters (the client encodes it)
  std::string dest_key;
  // Copy only if the source's ETag is this (x-amz-copy-source-if-match); empty: always.
  // moto 5.2.1 ignores it on CopyObject (it copies anyway); S3 answers 412.
  std::string source_if_match;
  // Destination must not exist (If-None-Match: *); moto 5.2.1 ignores it on CopyObject.
  bool if_none_match = false;
  // false (COPY): the copy keeps the source's metadata and content type, and `metadata`
  // and `content_type` are ignored. true (REPLACE): the copy gets exactly `metadata`
  // and `content_type` (empty: the server's default type).
  bool replace_metadata = false;
  Metadata metadata;
  std::string content_type;
  std::string storage_class;  // empty: STANDARD (S3 does not keep the source's class)
};

struct CopyObjectResult {
  std::string etag;
  int64_t last_modified = 0;  // seconds since the epoch; 0 if the server did not say
};

// Copies a byte range of an object of the same bucket into one part of a multipart
// upload (UploadPartCopy). Every part but the last must be at least 5 MiB, as with
// UploadPart. The result's part has the server's ETag, and the CRC32C S3 computed when
// the server returns one (uploads created with ChecksumAlgorithm::kCrc32c on AWS), so it
// can be passed to CompleteMultipartUpload as is. moto 5.2.1 returns no checksum for a
// copied part and completes an upload whose uploaded parts have CRC32C and copied parts
// none; AWS requires every part's checksum when the upload was created with one.
struct UploadPartCopyParams {
  std::string key;
  std::string upload_id;
  int part_number = 0;  // 1..10000
  std::string source_key;
  std::string source_if_match;  // x-amz-copy-source-if-match; empty: always
  uint64_t first_byte = 0;      // inclusive range of the source, unless whole_object
  uint64_t last_byte = 0;
  bool whole_object = false;
};

class ObjectClient {
 public:
  virtual ~ObjectClient() = default;

  virtual void HeadBucket(HeadBucketParams p, Callback<Empty> done) = 0;
  virtual void HeadObject(HeadObjectParams p, Callback<ObjectInfo> done) = 0;
  virtual void GetObject(GetObjectParams p, Callback<GetObjectResult> done) = 0;
  // Answers a read at once, on the calling thread, from a data cache (--cache), or returns
  // nullopt: then ask GetObject. Never sends the GET to S3; may wait on the cache's disk (or
  // its bucket), so it is asked only on threads that may (common/disk_wait.h). Returns the
  // bytes written into the buffer (fewer than asked only at the object's end).
  virtual std::optional<uint64_t> GetNow(const GetNowParams& p) {
    (void)p;
    return std::nullopt;
  }
  virtual void ListObjects(ListObjectsParams p, Callback<ListObjectsResult> done) = 0;
  virtual void PutObject(PutObjectParams p, Callback<PutObjectResult> done) = 0;
  virtual void CreateMultipartUpload(CreateMultipartUploadParams p,
                                     Callback<CreateMultipartUploadResult> done) = 0;
  virtual void UploadPart(UploadPartParams p, Callback<UploadPartResult> done) = 0;
  virtual void CompleteMultipartUpload(CompleteMultipartUploadParams p,
                                       Callback<CompleteMultipartUploadResult> done) = 0;
  virtual void AbortMultipartUpload(AbortMultipartUploadParams p, Callback<Empty> done) = 0;
  virtual void DeleteObject(DeleteObjectParams p, Callback<Empty> done) = 0;
  virtual void CopyObject(CopyObjectParams p, Callback<CopyObjectResult> done) = 0;
  virtual void UploadPartCopy(UploadPartCopyParams p, Callback<UploadPartResult> done) = 0;
};

// Runs one operation and waits for it: for tests, start-up probes and tools, never on a
// FUSE worker thread or a client callback thread. Usage:
//   auto r = Wait<ObjectInfo>([&](auto cb) { client.HeadObject({"k"}, cb); });
template <typename T, typename Start>
Result<T> Wait(Start&& start) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  start([&promise](Result<T> r) { promise.set_value(std::move(r)); });
  return future.get();
}

}  // namespace s3m
