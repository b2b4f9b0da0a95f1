// MemoryObjectClient: an ObjectClient that keeps one bucket in memory, with S3's
// semantics for the operations the file system uses (ranges, If-Match, listing with
// delimiters and paging, multipart uploads with part copies, user metadata, conditional
// writes, copies with the COPY and REPLACE metadata directives). It counts calls per operation so
// tests can assert request economy. For unit tests and for measuring the FUSE path alone; never a
// stand-in for S3 in integration tests.
//
// Thread-safe. Completions run inline on the calling thread, or, with `async`, on a
// private completion thread (closer to the real client, where `done` runs elsewhere).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "s3/object_client.h"

namespace s3m {

class MemoryObjectClient final : public ObjectClient {
 public:
  struct Options {
    bool async = false;
    // Completion threads with `async`: more than one lets the copies of several GETs run
    // at once, as a network client's transfers do (s3mount-memfs uses 2).
    int completion_threads = 1;
    // GETs that accept it are answered with the stored bytes themselves (no copy): the
    // stand-in for the network then costs nothing, so s3mount-memfs measures the FUSE path.
    bool lend_get_bodies = false;
  };
  MemoryObjectClient();
  explicit MemoryObjectClient(Options options);
  ~MemoryObjectClient() override;

  void HeadBucket(HeadBucketParams p, Callback<Empty> done) override;
  void HeadObject(HeadObjectParams p, Callback<ObjectInfo> done) override;
  void GetObject(GetObjectParams p, Callback<GetObjectResult> done) override;
  void ListObjects(ListObjectsParams p, Callback<ListObjectsResult> done) override;
  void PutObject(PutObjectParams p, Callback<PutObjectResult> done) override;
  void CreateMultipartUpload(CreateMultipartUploadParams p,
                             Callback<CreateMultipartUploadResult> done) override;
  void UploadPart(UploadPartParams p, Callback<UploadPartResult> done) override;
  void CompleteMultipartUpload(CompleteMultipartUploadParams p,
                               Callback<CompleteMultipartUploadResult> done) override;
  void AbortMultipartUpload(AbortMultipartUploadParams p, Callback<Empty> done) override;
  void DeleteObject(DeleteObjectParams p, Callback<Empty> done) override;
  void CopyObject(CopyObjectParams p, Callback<CopyObjectResult> done) override;
  void UploadPartCopy(UploadPartCopyParams p, Callback<UploadPartResult> done) override;

  // Direct access for test set-up and checks (not counted).
  void Put(const std::string& key, std::string data);
  std::optional<std::string> Contents(const std::string& key) const;
  std::optional<ObjectInfo> Info(const std::string& key) const;
  void Remove(const std::string& key);
  size_t ObjectCount() const;
  size_t PendingUploads() const;

  uint64_t Count(S3Op op) const { return counts_[static_cast<size_t>(op)].load(); }
  uint64_t TotalRequests() const;
  void ResetCounts();

 private:
  // What a write sets besides the bytes.
  struct Attributes {
    std::string storage_class;
    Metadata metadata;
    std::string content_type;
  };
  struct Object {
    std::shared_ptr<const std::string> data;
    std::string etag;
    int64_t mtime = 0;
    Attributes attributes;
  };
  struct Upload {
    std::string key;
    std::map<int, std::string> parts;  // part number -> data
    Attributes attributes;             // applied at completion
  };

  void Bump(S3Op op) { counts_[static_cast<size_t>(op)]++; }
  void Complete(std::function<void()> fn);
  void CompletionLoop();
  std::string NextEtag();  // requires mu_
  // Requires mu_; returns the stored object.
  const Object& Store(const std::string& key, std::string data, Attributes attributes);
  // Requires mu_: S3's answer to If-Match / If-None-Match on `key`, or ok.
  Status CheckDestination(const std::string& key, const std::string& if_match,
                          bool if_none_match) const;
  ObjectInfo InfoLocked(const std::string& key, const Object& o) const;
  ListObjectsResult ListLocked(const ListObjectsParams& p) const;

  Options options_;
  mutable std::mutex mu_;
  std::map<std::string, Object> objects_;  // GUARDED_BY(mu_)
  std::map<std::string, Upload> uploads_;  // GUARDED_BY(mu_)
  uint64_t generation_ = 0;                // GUARDED_BY(mu_)
  std::array<std::atomic<uint64_t>, static_cast<size_t>(S3Op::kCount)> counts_{};

  // Async completion thread.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(queue_mu_)
  bool stopping_ = false;                    // GUARDED_BY(queue_mu_)
  std::vector<std::thread> completion_threads_;
};

}  // namespace s3m
