// AWS Signature Version 4 for S3 (header signing and presigned URLs).
// Pure functions of their inputs (the time is a parameter); any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
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

// Signs `req` in place: adds the signer's headers (see SignableRequest::headers),
// replacing those of an earlier signing so that a retried request can be signed again.
// Every other header in `req.headers` is signed.
void SignRequest(SignableRequest& req, const Credentials& creds, const SigningParams& params);

// The longest validity S3 accepts for a presigned URL (X-Amz-Expires, 7 days).
inline constexpr std::chrono::seconds kMaxPresignExpires{7 * 24 * 3600};

// Adds the X-Amz-* query parameters of a presigned URL to `req.query` (replacing any
// from an earlier call). All headers in `req.headers` are signed; the payload hash is
// params.payload_hash (UNSIGNED-PAYLOAD for S3). `expires` must be in
// [1 s, kMaxPresignExpires]: callers validate user input first (a violation aborts).
void PresignRequest(SignableRequest& req, const Credentials& creds, const SigningParams& params,
                    std::chrono::seconds expires);

// S3's URI encoding: unreserved characters (A-Z a-z 0-9 - _ . ~) as they are, every other
// byte as %XX (upper-case hex); '/' kept when `keep_slash` (object key paths).
std::string UriEncode(const std::string& in, bool keep_slash);

std::string Sha256Hex(const void* data, size_t size);

// HMAC-SHA-256 (RFC 2104) of `data` under `key`, raw bytes; exposed for tests and for
// other AWS signing schemes (e.g. chunked uploads).
inline constexpr size_t kSha256Size = 32;  // bytes of a SHA-256 digest (FIPS 180-4)
using Sha256Digest = std::array<uint8_t, kSha256Size>;
Sha256Digest HmacSha256(std::string_view key, std::string_view data);

// Lower-case hex of `size` bytes.
std::string HexLower(const uint8_t* data, size_t size);

}  // namespace s3m
