// The internal state of one S3 operation across its attempts (S3ObjectClient only).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "http/http_client.h"
#include "s3/object_client.h"
#include "s3/s3_object_client.h"
#include "s3/sigv4.h"

namespace s3m {

struct S3ObjectClient::Call {
  S3Op op = S3Op::kCount;
  bool idempotent = true;
  // 200 responses may carry an <Error> body (CompleteMultipartUpload, CopyObject).
  bool error_in_200 = false;
  std::string method;
  std::string path;                                        // encoded
  std::vector<std::pair<std::string, std::string>> query;  // encoded
  std::vector<Header> headers;                             // unsigned extras (lower-case names)
  const char* body = nullptr;
  uint64_t body_size = 0;
  std::string owned_body;  // for small XML bodies built by the client
  std::string payload_hash = kEmptyPayloadSha256;
  char* response_buffer = nullptr;
  uint64_t response_capacity = 0;
  std::function<void(uint64_t)> on_progress;
  bool head = false;
  int attempts = 0;
  std::chrono::steady_clock::time_point attempt_start;  // of the request in flight
  uint64_t attempt_sent = 0;                            // its body bytes
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::function<void(Result<HttpResponse>)> done;  // gets 2xx responses or the error
};

}  // namespace s3m
