#include "s3/s3_object_client.h"

#include <fmt/format.h>

#include "common/log.h"
#include "metrics/mount_metrics.h"
#include "s3/s3_call.h"
#include "s3/s3_errors.h"
#include "s3/s3_xml.h"

namespace s3m {

void S3Metrics::Count(S3Op op, uint64_t requests, uint64_t retries, uint64_t failures) {
  Counters& c = ops_[static_cast<size_t>(op)];
  c.requests += requests;
  c.retries += retries;
  c.failures += failures;
}

S3Metrics::Op S3Metrics::Get(S3Op op) const {
  const Counters& c = ops_[static_cast<size_t>(op)];
  return Op{c.requests.load(), c.retries.load(), c.failures.load()};
}

uint64_t S3Metrics::TotalRequests() const {
  uint64_t total = 0;
  for (const auto& c : ops_) total += c.requests.load();
  return total;
}

std::string S3Metrics::Format() const {
  std::string out;
  for (size_t i = 0; i < ops_.size(); i++) {
    Op op = Get(static_cast<S3Op>(i));
    if (op.requests == 0) continue;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", S3OpName(static_cast<S3Op>(i)), op.requests);
    if (op.retries) out += fmt::format("(retries={})", op.retries);
    if (op.failures) out += fmt::format("(failed={})", op.failures);
  }
  return out.empty() ? "none" : out;
}

S3ObjectClient::S3ObjectClient(std::unique_ptr<HttpClient> http, CredentialsProvider* credentials,
                               Clock* clock, S3ClientOptions options)
    : http_(std::move(http)),
      credentials_(credentials),
      clock_(clock ? clock : RealClock::Get()),
      options_(std::move(options)),
      retry_(options_.retry) {}

S3ObjectClient::~S3ObjectClient() {
  // Completes every outstanding call (kCancelled) while this object is still whole.
  stopping_ = true;
  http_.reset();
}

void S3ObjectClient::Start(std::shared_ptr<Call> call) {
  if (options_.requester_pays) call->headers.emplace_back("x-amz-request-payer", "requester");
  const std::string& owner = options_.expected_bucket_owner;
  bool copy = call->op == S3Op::kCopyObject || call->op == S3Op::kUploadPartCopy;
  if (!owner.empty()) {
    call->headers.emplace_back("x-amz-expected-bucket-owner", owner);
    // Copies read from the same bucket, so its source has the same owner.
    if (copy) call->headers.emplace_back("x-amz-source-expected-bucket-owner", owner);
  }
  // The requests that create an object; parts (UploadPart, UploadPartCopy) take the
  // encryption of their upload, and S3 refuses these headers on them.
  bool creates = call->op == S3Op::kPutObject || call->op == S3Op::kCreateMultipartUpload ||
                 call->op == S3Op::kCopyObject;
  if (creates && !options_.sse.empty()) {
    call->headers.emplace_back("x-amz-server-side-encryption", options_.sse);
    if (!options_.sse_kms_key_id.empty()) {
      call->headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id",
                                 options_.sse_kms_key_id);
    }
  }
  Attempt(call);
}

void S3ObjectClient::Attempt(const std::shared_ptr<Call>& call) {
  if (stopping_) {
    Finish(call, Status(Code::kCancelled, "S3 client shut down"));
    return;
  }
  call->attempts++;
  SignableRequest req;
  req.method = call->method;
  req.path = call->path;
  req.query = call->query;
  req.headers = call->headers;
  req.headers.emplace_back("host", options_.endpoint.host);
  if (!options_.anonymous) {
    auto creds = credentials_->Get();
    if (!creds.ok()) {
      Finish(call, creds.status());
      return;
    }
    SigningParams params;
    const Endpoint& ep = options_.endpoint;
    params.region = ep.signing_region.empty() ? options_.region : ep.signing_region;
    if (!ep.signing_service.empty()) params.service = ep.signing_service;
    params.time = clock_->Now();
    params.payload_hash = call->payload_hash;
    SignRequest(req, *creds, params);
  }
  HttpRequest h;
  h.method = call->method;
  h.url = options_.endpoint.base_url + call->path;
  for (size_t i = 0; i < call->query.size(); i++) {
    h.url += (i == 0 ? '?' : '&') + call->query[i].first + '=' + call->query[i].second;
  }
  h.headers = std::move(req.headers);
  h.body = call->owned_body.empty() ? call->body : call->owned_body.data();
  h.body_size = call->owned_body.empty() ? call->body_size : call->owned_body.size();
  h.response_buffer = call->response_buffer;
  h.response_capacity = call->response_capacity;
  h.on_progress = call->on_progress;
  h.head = call->head;
  call->attempt_start = std::chrono::steady_clock::now();
  call->attempt_sent = h.body_size;
  http_->Send(std::move(h), [this, call](HttpResponse r) { OnResponse(call, std::move(r)); });
}

void S3ObjectClient::OnResponse(const std::shared_ptr<Call>& call, HttpResponse response) {
  if (options_.metrics != nullptr) {
    options_.metrics->OnRequest(call->op, response.transport.ok() ? response.status : 0,
                                call->attempt_sent, response.buffer_bytes + response.body.size(),
                                std::chrono::steady_clock::now() - call->attempt_start);
  }
  Status error;
  bool maybe_sent = response.maybe_sent;
  if (!response.transport.ok()) {
    error = response.transport;
  } else if (response.status >= 200 && response.status < 300) {
    S3ErrorBody body;
    if (!call->error_in_200 || !ParseErrorBody(response.body, &body)) {
      Finish(call, std::move(response));
      return;
    }
    error = StatusFromResponse(response, options_.bucket, options_.region);
  } else {
    error = StatusFromResponse(response, options_.bucket, options_.region);
  }
  auto delay = retry_.NextDelay(call->attempts, error, call->idempotent, maybe_sent);
  if (!delay || stopping_) {
    Finish(call, std::move(error));
    return;
  }
  S3M_DEBUG("retrying {} {} after {} (attempt {}): {}", S3OpName(call->op), call->path,
            std::chrono::duration_cast<std::chrono::milliseconds>(*delay).count(), call->attempts,
            error.ToString());
  if (options_.metrics != nullptr) options_.metrics->OnRetry(call->op);
  http_->Schedule(*delay, [this, call] { Attempt(call); });
}

void S3ObjectClient::Finish(const std::shared_ptr<Call>& call, Result<HttpResponse> result) {
  uint64_t attempts = static_cast<uint64_t>(call->attempts);
  metrics_.Count(call->op, attempts, attempts > 0 ? attempts - 1 : 0, result.ok() ? 0 : 1);
  if (options_.metrics != nullptr && !result.ok()) options_.metrics->OnFailure(call->op);
  S3M_TRACE_OP("S3 {} {} -> {} ({} attempts, {} ms)", S3OpName(call->op), call->path,
               result.ok() ? std::to_string(result->status) : result.status().ToString(), attempts,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - call->start)
                   .count());
  auto done = std::move(call->done);
  done(std::move(result));
}

}  // namespace s3m
