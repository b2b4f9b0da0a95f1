#include "s3/fault_injecting_client.h"

namespace s3m {

void FaultInjectingClient::SetFault(S3Op op, Fault fault) {
  std::lock_guard l(mu_);
  slots_[static_cast<size_t>(op)] = Slot{true, std::move(fault), 0};
}

void FaultInjectingClient::ClearFaults() {
  std::lock_guard l(mu_);
  for (auto& s : slots_) s.active = false;
}

int FaultInjectingClient::Injected(S3Op op) const {
  std::lock_guard l(mu_);
  return slots_[static_cast<size_t>(op)].injected;
}

Status FaultInjectingClient::Check(S3Op op, const std::string& key) {
  std::lock_guard l(mu_);
  Slot& s = slots_[static_cast<size_t>(op)];
  if (!s.active || (!s.fault.key.empty() && s.fault.key != key)) return Status::Ok();
  if (s.fault.skip > 0) {
    s.fault.skip--;
    return Status::Ok();
  }
  if (s.fault.times == 0) return Status::Ok();
  if (s.fault.times > 0) s.fault.times--;
  s.injected++;
  return s.fault.error;
}

// Each operation: fail with the injected error, or forward to the wrapped client.
#define S3M_FORWARD(Method, Op, Params, ResultT, KeyExpr)               \
  void FaultInjectingClient::Method(Params p, Callback<ResultT> done) { \
    Status e = Check(S3Op::Op, KeyExpr);                                \
    if (!e.ok()) {                                                      \
      done(e);                                                          \
      return;                                                           \
    }                                                                   \
    ForwardingClient::Method(std::move(p), std::move(done));            \
  }

S3M_FORWARD(HeadBucket, kHeadBucket, HeadBucketParams, Empty, "")
S3M_FORWARD(HeadObject, kHeadObject, HeadObjectParams, ObjectInfo, p.key)
S3M_FORWARD(GetObject, kGetObject, GetObjectParams, GetObjectResult, p.key)
S3M_FORWARD(ListObjects, kListObjects, ListObjectsParams, ListObjectsResult, p.prefix)
S3M_FORWARD(PutObject, kPutObject, PutObjectParams, PutObjectResult, p.key)
S3M_FORWARD(CreateMultipartUpload, kCreateMultipartUpload, CreateMultipartUploadParams,
            CreateMultipartUploadResult, p.key)
S3M_FORWARD(UploadPart, kUploadPart, UploadPartParams, UploadPartResult, p.key)
S3M_FORWARD(CompleteMultipartUpload, kCompleteMultipartUpload, CompleteMultipartUploadParams,
            CompleteMultipartUploadResult, p.key)
S3M_FORWARD(AbortMultipartUpload, kAbortMultipartUpload, AbortMultipartUploadParams, Empty, p.key)
S3M_FORWARD(DeleteObject, kDeleteObject, DeleteObjectParams, Empty, p.key)
S3M_FORWARD(CopyObject, kCopyObject, CopyObjectParams, CopyObjectResult, p.dest_key)
S3M_FORWARD(UploadPartCopy, kUploadPartCopy, UploadPartCopyParams, UploadPartResult, p.key)

#undef S3M_FORWARD

}  // namespace s3m
