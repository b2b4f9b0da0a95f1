// S3ObjectClient: the ObjectClient over the S3 REST API. It builds, signs (SigV4) and
// sends each request through an asynchronous HttpClient, parses the answers, and retries
// what a retry can help with (back-off scheduled on the transport's timers, never a
// sleeping thread).
//
// Thread-safe; completions run on the transport's event-loop threads. The client owns its
// HttpClient and destroys it first, so every outstanding operation completes (with
// kCancelled) while the client is still alive.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "common/clock.h"
#include "http/http_client.h"
#include "s3/credentials.h"
#include "s3/endpoint.h"
#include "s3/object_client.h"
#include "s3/retry_policy.h"

namespace s3m::metrics {
class S3RequestMetrics;
}

namespace s3m {

struct S3ClientOptions {
  std::string bucket;
  std::string region;
  Endpoint endpoint;
  bool anonymous = false;  // --no-sign-request
  bool requester_pays = false;
  // Server-side encryption of every object written (PutObject, CreateMultipartUpload and
  // CopyObject; parts inherit their upload's): "aws:kms", "aws:kms:dsse", "AES256" or "".
  std::string sse;
  std::string sse_kms_key_id;  // with aws:kms*; empty: the account's default key
  // x-amz-expected-bucket-owner on every request (and the copy source's on copies).
  std::string expected_bucket_owner;
  // PutObject and CreateMultipartUpload without a content type get one from the key's
  // extension (content_type.h).
  bool infer_content_type = false;
  RetryOptions retry;
  // Counts every request, retry and failure (mount_metrics.h); null counts nothing. Must
  // outlive the client.
  metrics::S3RequestMetrics* metrics = nullptr;
};

// Request counters per operation, for the metrics log and the benchmarks.
class S3Metrics {
 public:
  struct Op {
    uint64_t requests = 0;  // HTTP requests sent, retries included
    uint64_t retries = 0;
    uint64_t failures = 0;  // operations that ended in an error
  };
  void Count(S3Op op, uint64_t requests, uint64_t retries, uint64_t failures);
  Op Get(S3Op op) const;
  uint64_t TotalRequests() const;
  std::string Format() const;  // "GetObject=12 ListObjectsV2=1 ..." (non-zero only)

 private:
  struct Counters {
    std::atomic<uint64_t> requests{0}, retries{0}, failures{0};
  };
  std::array<Counters, static_cast<size_t>(S3Op::kCount)> ops_;
};

class S3ObjectClient final : public ObjectClient {
 public:
  // `credentials` may be null when options.anonymous; it must outlive the client.
  S3ObjectClient(std::unique_ptr<HttpClient> http, CredentialsProvider* credentials, Clock* clock,
                 S3ClientOptions options);
  ~S3ObjectClient() override;

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

  const S3Metrics& metrics() const { return metrics_; }
  HttpStats http_stats() const { return http_->Stats(); }

  struct Call;  // one operation across its attempts (s3_call.h); internal

 private:
  void Start(std::shared_ptr<Call> call);
  void Attempt(const std::shared_ptr<Call>& call);
  void OnResponse(const std::shared_ptr<Call>& call, HttpResponse response);
  void Finish(const std::shared_ptr<Call>& call, Result<HttpResponse> result);

  std::unique_ptr<HttpClient> http_;
  // Set while the destructor cancels outstanding calls: a completion that starts a new
  // operation (an upload's abort) then completes it at once with kCancelled.
  std::atomic<bool> stopping_{false};
  CredentialsProvider* credentials_;
  Clock* clock_;
  S3ClientOptions options_;
  RetryPolicy retry_;
  S3Metrics metrics_;
};

}  // namespace s3m
