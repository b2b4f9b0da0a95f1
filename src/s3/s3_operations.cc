// The S3 operations of S3ObjectClient: how each builds its request and reads its answer.
#include <fmt/format.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string_view>

#include "common/crc32c.h"
#include "s3/content_type.h"
#include "s3/s3_call.h"
#include "s3/s3_object_client.h"
#include "s3/s3_xml.h"

namespace s3m {
namespace {

using CallPtr = std::shared_ptr<S3ObjectClient::Call>;

// Signals a malformed success response (missing header and the like).
Status BadResponse(const std::string& what) {
  return Status(Code::kInternal, "unexpected S3 response: " + what).set_retryable(false);
}

// Adapts a typed callback to the raw response callback of a Call.
template <typename T, typename Parse>
std::function<void(Result<HttpResponse>)> Reply(Callback<T> done, Parse parse) {
  return [done = std::move(done), parse = std::move(parse)](Result<HttpResponse> r) mutable {
    if (!r.ok()) {
      done(r.status());
      return;
    }
    done(parse(*r));
  };
}

void AddChecksum(S3ObjectClient::Call& call, ChecksumAlgorithm algorithm, std::string* out) {
  if (algorithm != ChecksumAlgorithm::kCrc32c) return;
  std::string crc = Crc32cBase64(Crc32c(0, call.body, call.body_size));
  call.headers.emplace_back("x-amz-checksum-crc32c", crc);
  if (out) *out = crc;
}

// "bytes 0-9/100" -> 100.
bool ParseContentRangeTotal(const std::string& s, uint64_t* total) {
  auto slash = s.rfind('/');
  if (slash == std::string::npos || slash + 1 >= s.size() || s[slash + 1] == '*') return false;
  *total = std::strtoull(s.c_str() + slash + 1, nullptr, 10);
  return true;
}

std::string Encode(const std::string& s) {
  return UriEncode(s, false);
}

constexpr std::string_view kMetaPrefix = "x-amz-meta-";

// Header names and values go on the wire as they are: a control character (CR, LF) would
// split the request, so such metadata is refused before anything is sent.
bool IsHeaderSafe(const std::string& s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Adds x-amz-meta-NAME headers and Content-Type; false (and `done` called) when a name or
// value cannot be sent.
template <typename T>
bool AddMetadata(S3ObjectClient::Call& call, const Metadata& metadata,
                 const std::string& content_type, Callback<T>& done) {
  for (const auto& [name, value] : metadata) {
    bool lower =
        std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (name.empty() || !lower || !IsHeaderSafe(name) || name.find(':') != std::string::npos ||
        name.find(' ') != std::string::npos || !IsHeaderSafe(value)) {
      done(Status(Code::kInvalidArgument,
                  fmt::format("metadata '{}' cannot be sent as an S3 header (names are "
                              "lower-case, without spaces or control characters)",
                              name)));
      return false;
    }
    call.headers.emplace_back(std::string(kMetaPrefix) + name, value);
  }
  if (!content_type.empty()) {
    if (!IsHeaderSafe(content_type)) {
      done(Status(Code::kInvalidArgument, "content type with control characters"));
      return false;
    }
    call.headers.emplace_back("content-type", content_type);
  }
  return true;
}

// x-amz-copy-source: "/bucket/key" with the key URI-encoded (spaces, '+', '%', '?',
// non-ASCII), slashes kept.
std::string CopySource(const std::string& bucket, const std::string& key) {
  return "/" + bucket + "/" + UriEncode(key, true);
}

}  // namespace

void S3ObjectClient::HeadBucket(HeadBucketParams, Callback<Empty> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kHeadBucket;
  call->method = "HEAD";
  call->head = true;
  call->path = options_.endpoint.BucketPath();
  call->done = [done = std::move(done)](Result<HttpResponse> r) {
    if (!r.ok() && r.status().code() == Code::kNotFound) {
      Status s = r.status();
      done(s.set_message("bucket does not exist").set_s3_code("NoSuchBucket"));
      return;
    }
    done(r.ok() ? Result<Empty>(Empty{}) : Result<Empty>(r.status()));
  };
  Start(std::move(call));
}

void S3ObjectClient::HeadObject(HeadObjectParams p, Callback<ObjectInfo> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kHeadObject;
  call->method = "HEAD";
  call->head = true;
  call->path = options_.endpoint.KeyPath(p.key);
  call->done = Reply(std::move(done), [key = p.key](const HttpResponse& r) -> Result<ObjectInfo> {
    ObjectInfo info;
    info.key = key;
    info.etag = r.Header("etag");
    std::string length = r.Header("content-length");
    if (length.empty()) return BadResponse("HeadObject without Content-Length");
    info.size = std::strtoull(length.c_str(), nullptr, 10);
    ParseHttpDate(r.Header("last-modified"), &info.last_modified);
    info.storage_class = r.Header("x-amz-storage-class");
    if (info.storage_class.empty()) info.storage_class = "STANDARD";
    for (const auto& [name, value] : r.headers) {
      if (name.size() > kMetaPrefix.size() &&
          name.compare(0, kMetaPrefix.size(), kMetaPrefix) == 0) {
        info.metadata[name.substr(kMetaPrefix.size())] = value;
      }
    }
    return info;
  });
  Start(std::move(call));
}

void S3ObjectClient::GetObject(GetObjectParams p, Callback<GetObjectResult> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kGetObject;
  call->method = "GET";
  call->path = options_.endpoint.KeyPath(p.key);
  if (p.length == 0) {
    done(Status(Code::kInvalidArgument, "GetObject of zero bytes"));
    return;
  }
  call->headers.emplace_back("range",
                             fmt::format("bytes={}-{}", p.offset, p.offset + p.length - 1));
  if (!p.if_match.empty()) call->headers.emplace_back("if-match", p.if_match);
  call->response_buffer = p.buffer;
  call->response_capacity = p.length;
  call->on_progress = std::move(p.on_progress);
  call->done = Reply(std::move(done), [](const HttpResponse& r) -> Result<GetObjectResult> {
    GetObjectResult out;
    out.bytes = r.buffer_bytes;
    out.etag = r.Header("etag");
    if (r.status == 206) {
      if (!ParseContentRangeTotal(r.Header("content-range"), &out.object_size)) {
        return BadResponse("206 without a usable Content-Range");
      }
    } else {
      out.object_size = r.buffer_bytes;  // 200: the whole object fit
    }
    return out;
  });
  Start(std::move(call));
}

void S3ObjectClient::ListObjects(ListObjectsParams p, Callback<ListObjectsResult> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kListObjects;
  call->method = "GET";
  call->path = options_.endpoint.BucketPath();
  call->query.emplace_back("list-type", "2");
  if (!p.prefix.empty()) call->query.emplace_back("prefix", Encode(p.prefix));
  if (!p.delimiter.empty()) call->query.emplace_back("delimiter", Encode(p.delimiter));
  if (!p.continuation_token.empty()) {
    call->query.emplace_back("continuation-token", Encode(p.continuation_token));
  }
  if (!p.start_after.empty()) call->query.emplace_back("start-after", Encode(p.start_after));
  call->query.emplace_back("max-keys", std::to_string(p.max_keys));
  call->done =
      Reply(std::move(done), [](const HttpResponse& r) { return ParseListObjectsV2(r.body); });
  Start(std::move(call));
}

void S3ObjectClient::PutObject(PutObjectParams p, Callback<PutObjectResult> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kPutObject;
  call->method = "PUT";
  call->path = options_.endpoint.KeyPath(p.key);
  call->body = p.data;
  call->body_size = p.size;
  call->payload_hash = kUnsignedPayload;
  AddChecksum(*call, p.checksum, nullptr);
  if (!p.storage_class.empty()) call->headers.emplace_back("x-amz-storage-class", p.storage_class);
  if (p.if_none_match) {
    call->headers.emplace_back("if-none-match", "*");
    call->idempotent = false;  // a retry after success would fail with 412
  }
  if (!p.if_match.empty()) {
    call->headers.emplace_back("if-match", p.if_match);
    call->idempotent = false;  // likewise: the first attempt changed the ETag
  }
  if (p.content_type.empty() && options_.infer_content_type) {
    p.content_type = ContentTypeForKey(p.key);
  }
  if (!AddMetadata(*call, p.metadata, p.content_type, done)) return;
  call->done = Reply(std::move(done), [](const HttpResponse& r) -> Result<PutObjectResult> {
    return PutObjectResult{r.Header("etag")};
  });
  Start(std::move(call));
}

void S3ObjectClient::CreateMultipartUpload(CreateMultipartUploadParams p,
                                           Callback<CreateMultipartUploadResult> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kCreateMultipartUpload;
  call->method = "POST";
  call->path = options_.endpoint.KeyPath(p.key);
  call->query.emplace_back("uploads", "");
  if (!p.storage_class.empty()) call->headers.emplace_back("x-amz-storage-class", p.storage_class);
  if (p.checksum == ChecksumAlgorithm::kCrc32c) {
    call->headers.emplace_back("x-amz-checksum-algorithm", "CRC32C");
  }
  if (p.content_type.empty() && options_.infer_content_type) {
    p.content_type = ContentTypeForKey(p.key);
  }
  if (!AddMetadata(*call, p.metadata, p.content_type, done)) return;
  call->done = Reply(std::move(done),
                     [](const HttpResponse& r) { return ParseInitiateMultipartUpload(r.body); });
  Start(std::move(call));
}

void S3ObjectClient::UploadPart(UploadPartParams p, Callback<UploadPartResult> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kUploadPart;
  call->method = "PUT";
  call->path = options_.endpoint.KeyPath(p.key);
  call->query.emplace_back("partNumber", std::to_string(p.part_number));
  call->query.emplace_back("uploadId", Encode(p.upload_id));
  call->body = p.data;
  call->body_size = p.size;
  call->payload_hash = kUnsignedPayload;
  std::string crc;
  AddChecksum(*call, p.checksum, &crc);
  call->done = Reply(std::move(done),
                     [n = p.part_number, crc](const HttpResponse& r) -> Result<UploadPartResult> {
                       std::string etag = r.Header("etag");
                       if (etag.empty()) return BadResponse("UploadPart without ETag");
                       return UploadPartResult{CompletedPart{n, etag, crc}};
                     });
  Start(std::move(call));
}

void S3ObjectClient::CompleteMultipartUpload(CompleteMultipartUploadParams p,
                                             Callback<CompleteMultipartUploadResult> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kCompleteMultipartUpload;
  call->method = "POST";
  call->path = options_.endpoint.KeyPath(p.key);
  call->query.emplace_back("uploadId", Encode(p.upload_id));
  call->owned_body = BuildCompleteMultipartUpload(p.parts);
  call->payload_hash = Sha256Hex(call->owned_body.data(), call->owned_body.size());
  call->idempotent = false;
  call->error_in_200 = true;
  if (p.if_none_match) call->headers.emplace_back("if-none-match", "*");
  if (!p.if_match.empty()) call->headers.emplace_back("if-match", p.if_match);
  call->done = Reply(std::move(done),
                     [](const HttpResponse& r) { return ParseCompleteMultipartUpload(r.body); });
  Start(std::move(call));
}

void S3ObjectClient::AbortMultipartUpload(AbortMultipartUploadParams p, Callback<Empty> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kAbortMultipartUpload;
  call->method = "DELETE";
  call->path = options_.endpoint.KeyPath(p.key);
  call->query.emplace_back("uploadId", Encode(p.upload_id));
  call->done = Reply(std::move(done), [](const HttpResponse&) -> Result<Empty> { return Empty{}; });
  Start(std::move(call));
}

void S3ObjectClient::DeleteObject(DeleteObjectParams p, Callback<Empty> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kDeleteObject;
  call->method = "DELETE";
  call->path = options_.endpoint.KeyPath(p.key);
  call->done = Reply(std::move(done), [](const HttpResponse&) -> Result<Empty> { return Empty{}; });
  Start(std::move(call));
}

void S3ObjectClient::CopyObject(CopyObjectParams p, Callback<CopyObjectResult> done) {
  auto call = std::make_shared<Call>();
  call->op = S3Op::kCopyObject;
  call->method = "PUT";
  call->path = options_.endpoint.KeyPath(p.dest_key);
  call->headers.emplace_back("x-amz-copy-source", CopySource(options_.bucket, p.source_key));
  if (!p.source_if_match.empty()) {
    call->headers.emplace_back("x-amz-copy-source-if-match", p.source_if_match);
  }
  if (p.if_none_match) {
    call->headers.emplace_back("if-none-match", "*");
    call->idempotent = false;  // a retry after success would fail with 412
  }
  if (!p.storage_class.empty()) call->headers.emplace_back("x-amz-storage-class", p.storage_class);
  if (p.replace_metadata) {
    call->headers.emplace_back("x-amz-metadata-directive", "REPLACE");
    if (!AddMetadata(*call, p.metadata, p.content_type, done)) return;
  }
  call->error_in_200 = true;
  call->done =
      Reply(std::move(done), [](const HttpResponse& r) { return ParseCopyObjectResult(r.body); });
  Start(std::move(call));
}

void S3ObjectClient::UploadPartCopy(UploadPartCopyParams p, Callback<UploadPartResult> done) {
  if (!p.whole_object && p.last_byte < p.first_byte) {
    done(Status(Code::kInvalidArgument,
                fmt::format("UploadPartCopy range {}-{} is empty", p.first_byte, p.last_byte)));
    return;
  }
  auto call = std::make_shared<Call>();
  call->op = S3Op::kUploadPartCopy;
  call->method = "PUT";
  call->path = options_.endpoint.KeyPath(p.key);
  call->query.emplace_back("partNumber", std::to_string(p.part_number));
  call->query.emplace_back("uploadId", Encode(p.upload_id));
  call->headers.emplace_back("x-amz-copy-source", CopySource(options_.bucket, p.source_key));
  if (!p.whole_object) {
    call->headers.emplace_back("x-amz-copy-source-range",
                               fmt::format("bytes={}-{}", p.first_byte, p.last_byte));
  }
  if (!p.source_if_match.empty()) {
    call->headers.emplace_back("x-amz-copy-source-if-match", p.source_if_match);
  }
  call->error_in_200 = true;
  call->done = Reply(std::move(done), [n = p.part_number](const HttpResponse& r) {
    return ParseCopyPartResult(r.body, n);
  });
  Start(std::move(call));
}

}  // namespace s3m
