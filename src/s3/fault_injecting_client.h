// FaultInjectingClient: wraps any ObjectClient and fails chosen operations, for tests of
// error handling (upload failures surfacing at close, reads failing with EIO, ...). Every
// operation can fail: each is overridden to check for a fault, then forwarded.
// Thread-safe: faults may be set while operations run.
#pragma once

#include <array>
#include <functional>
#include <mutex>
#include <string>

#include "s3/forwarding_client.h"

namespace s3m {

class FaultInjectingClient final : public ForwardingClient {
 public:
  struct Fault {
    Status error;
    int skip = 0;    // let this many calls through first
    int times = -1;  // then fail this many calls (-1: every call)
    // Only calls whose key matches (empty: all keys).
    std::string key;
  };

  explicit FaultInjectingClient(ObjectClient* inner) : ForwardingClient(inner) {}

  void SetFault(S3Op op, Fault fault);
  void ClearFaults();
  int Injected(S3Op op) const;  // how many calls were failed

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

 private:
  struct Slot {
    bool active = false;
    Fault fault;
    int injected = 0;
  };
  // The error to inject for this call, or ok to pass it through.
  Status Check(S3Op op, const std::string& key);

  mutable std::mutex mu_;
  std::array<Slot, static_cast<size_t>(S3Op::kCount)> slots_;  // GUARDED_BY(mu_)
};

}  // namespace s3m
