// AWS Signature Version 4 for S3 (header signing and presigned URLs).
// Pure functions of their inputs (the time is a parameter); any thread.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "s3/credentials.h"

namespace s3m {

inline constexpr const char* kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr const char* kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SignableRequest {
  std::string method;
  // The path exactly as sent on the wire, already URI-encoded (S3 encodes each key byte
  // once and does not normalize, so this is also the canonical URI).
  std::string path;
  // Query parameters, already URI-encoded (name, value); any order.
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to send; the signer adds x-amz-date, x-amz-security-token (when there is a
  // session token), x-amz-content-sha256 (when add_content_sha256) and Authorization.
  // Must include "host".
  std::vector<std::pair<std::string, std::string>> headers;
};

struct SigningParams {
  std::string region;
  std::string service = "s3";
  std::chrono::system_clock::time_point time;
  // Hex SHA-256 of the body, or kUnsignedPayload.
  std::string payload_hash = kUnsignedPayload;
  bool add_content_sha256 = true;  // S3 requires it; the generic AWS vectors do not
};

// The intermediate strings, exposed for the known-answer tests.
std::string CanonicalRequest(const SignableRequest& req, const std::string& payload_hash);
std::string StringToSign(const std::string& canonical_request, const SigningParams& params);

// Signs `req` in place with the Authorization header.
void SignRequest(SignableRequest& req, const Credentials& creds, const SigningParams& params);

// Adds the X-Amz-* query parameters of a presigned URL to `req.query`.
void PresignRequest(SignableRequest& req, const Credentials& creds, const SigningParams& params,
                    std::chrono::seconds expires);

// S3's URI encoding: unreserved characters (A-Z a-z 0-9 - _ . ~) as they are, every other
// byte as %XX (upper-case hex); '/' kept when `keep_slash` (object key paths).
std::string UriEncode(const std::string& in, bool keep_slash);

std::string Sha256Hex(const void* data, size_t size);

}  // namespace s3m
