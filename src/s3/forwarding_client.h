// ForwardingClient: an ObjectClient that passes every operation to an inner client, the
// base of decorators (fault injection, recording, caching) so that each overrides only
// the operations it changes, and a new operation is added here once instead of in every
// decorator (RocksDB's FileSystemWrapper).
//
// Thread-safety is the inner client's: the forwarding itself keeps no state. The inner
// client must outlive this one.
#pragma once

#include <utility>

#include "s3/object_client.h"

namespace s3m {

class ForwardingClient : public ObjectClient {
 public:
  explicit ForwardingClient(ObjectClient* inner) : inner_(inner) {}

  void HeadBucket(HeadBucketParams p, Callback<Empty> done) override {
    inner_->HeadBucket(std::move(p), std::move(done));
  }
  void HeadObject(HeadObjectParams p, Callback<ObjectInfo> done) override {
    inner_->HeadObject(std::move(p), std::move(done));
  }
  void GetObject(GetObjectParams p, Callback<GetObjectResult> done) override {
    inner_->GetObject(std::move(p), std::move(done));
  }
  std::optional<uint64_t> GetNow(const GetNowParams& p) override { return inner_->GetNow(p); }
  void ListObjects(ListObjectsParams p, Callback<ListObjectsResult> done) override {
    inner_->ListObjects(std::move(p), std::move(done));
  }
  void PutObject(PutObjectParams p, Callback<PutObjectResult> done) override {
    inner_->PutObject(std::move(p), std::move(done));
  }
  void CreateMultipartUpload(CreateMultipartUploadParams p,
                             Callback<CreateMultipartUploadResult> done) override {
    inner_->CreateMultipartUpload(std::move(p), std::move(done));
  }
  void UploadPart(UploadPartParams p, Callback<UploadPartResult> done) override {
    inner_->UploadPart(std::move(p), std::move(done));
  }
  void CompleteMultipartUpload(CompleteMultipartUploadParams p,
                               Callback<CompleteMultipartUploadResult> done) override {
    inner_->CompleteMultipartUpload(std::move(p), std::move(done));
  }
  void AbortMultipartUpload(AbortMultipartUploadParams p, Callback<Empty> done) override {
    inner_->AbortMultipartUpload(std::move(p), std::move(done));
  }
  void DeleteObject(DeleteObjectParams p, Callback<Empty> done) override {
    inner_->DeleteObject(std::move(p), std::move(done));
  }
  void CopyObject(CopyObjectParams p, Callback<CopyObjectResult> done) override {
    inner_->CopyObject(std::move(p), std::move(done));
  }
  void UploadPartCopy(UploadPartCopyParams p, Callback<UploadPartResult> done) override {
    inner_->UploadPartCopy(std::move(p), std::move(done));
  }

 protected:
  ObjectClient* inner() const { return inner_; }

 private:
  ObjectClient* inner_;
};

}  // namespace s3m
