// Parsing and building the XML documents of the S3 REST API with pugixml.
// Pure functions; any thread. A document that is malformed or truncated is an error
// (kInternal, retryable: a body cut short by the network is worth another try).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "s3/object_client.h"

namespace s3m {

// The <Error> document S3 sends with a failure.
struct S3ErrorBody {
  std::string code;
  std::string message;
  std::string request_id;
};
// False when `body` is not an <Error> document.
bool ParseErrorBody(std::string_view body, S3ErrorBody* out);

Result<ListObjectsResult> ParseListObjectsV2(std::string_view body);
Result<CreateMultipartUploadResult> ParseInitiateMultipartUpload(std::string_view body);
// CompleteMultipartUpload, CopyObject and UploadPartCopy can answer 200 with an <Error>
// body: the caller checks ParseErrorBody first.
Result<CompleteMultipartUploadResult> ParseCompleteMultipartUpload(std::string_view body);
Result<CopyObjectResult> ParseCopyObjectResult(std::string_view body);
// <CopyPartResult>: the part's ETag, and its ChecksumCRC32C when S3 computed one.
Result<UploadPartResult> ParseCopyPartResult(std::string_view body, int part_number);

std::string BuildCompleteMultipartUpload(const std::vector<CompletedPart>& parts);

// "2009-10-12T17:50:30.000Z" (ISO 8601, as in listings) and
// "Wed, 12 Oct 2009 17:50:30 GMT" (RFC 7231, as in Last-Modified).
bool ParseIso8601(const std::string& s, int64_t* seconds, int32_t* nanos);
bool ParseHttpDate(const std::string& s, int64_t* seconds);

}  // namespace s3m
