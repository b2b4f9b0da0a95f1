#include "s3/s3_xml.h"

#include <pugixml.hpp>

#include <cstdio>
#include <ctime>

namespace s3m {
namespace {

// The start of the body helps diagnose a server that answers in an unexpected shape.
constexpr size_t kBodyExcerpt = 160;

Status Malformed(const char* what, std::string_view body) {
  return Status(Code::kInternal, std::string("malformed or truncated ") + what +
                                     " response: " + std::string(body.substr(0, kBodyExcerpt)))
      .set_retryable(true);
}

bool Load(pugi::xml_document& doc, std::string_view body) {
  return doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
}

std::string Text(const pugi::xml_node& n, const char* child) {
  return n.child(child).text().get();
}

}  // namespace

bool ParseErrorBody(std::string_view body, S3ErrorBody* out) {
  pugi::xml_document doc;
  if (!Load(doc, body)) return false;
  pugi::xml_node e = doc.child("Error");
  if (!e) return false;
  out->code = Text(e, "Code");
  out->message = Text(e, "Message");
  out->request_id = Text(e, "RequestId");
  return true;
}

Result<ListObjectsResult> ParseListObjectsV2(std::string_view body) {
  pugi::xml_document doc;
  if (!Load(doc, body)) return Malformed("ListObjectsV2", body);
  pugi::xml_node root = doc.child("ListBucketResult");
  if (!root) return Malformed("ListObjectsV2", body);
  ListObjectsResult out;
  out.truncated = std::string_view(root.child("IsTruncated").text().get()) == "true";
  out.next_continuation_token = Text(root, "NextContinuationToken");
  if (out.truncated && out.next_continuation_token.empty()) return Malformed("ListObjectsV2", body);
  for (pugi::xml_node c : root.children("Contents")) {
    ObjectInfo info;
    info.key = Text(c, "Key");
    info.size = c.child("Size").text().as_ullong();
    info.etag = Text(c, "ETag");
    info.storage_class = Text(c, "StorageClass");
    if (!c.child("Key") || !c.child("Size") ||
        !ParseIso8601(Text(c, "LastModified"), &info.last_modified, &info.last_modified_nsec)) {
      return Malformed("ListObjectsV2", body);
    }
    out.objects.push_back(std::move(info));
  }
  for (pugi::xml_node p : root.children("CommonPrefixes")) {
    out.common_prefixes.push_back(Text(p, "Prefix"));
  }
  return out;
}

Result<CreateMultipartUploadResult> ParseInitiateMultipartUpload(std::string_view body) {
  pugi::xml_document doc;
  if (!Load(doc, body)) return Malformed("CreateMultipartUpload", body);
  std::string id = Text(doc.child("InitiateMultipartUploadResult"), "UploadId");
  if (id.empty()) return Malformed("CreateMultipartUpload", body);
  return CreateMultipartUploadResult{id};
}

Result<CompleteMultipartUploadResult> ParseCompleteMultipartUpload(std::string_view body) {
  pugi::xml_document doc;
  if (!Load(doc, body)) return Malformed("CompleteMultipartUpload", body);
  // Some servers (moto) name the root CompleteMultipartUploadResponse: accept either.
  pugi::xml_node root = doc.first_child();
  if (std::string_view(root.name()).rfind("CompleteMultipartUpload", 0) != 0) {
    return Malformed("CompleteMultipartUpload", body);
  }
  return CompleteMultipartUploadResult{Text(root, "ETag")};
}

Result<CopyObjectResult> ParseCopyObjectResult(std::string_view body) {
  pugi::xml_document doc;
  if (!Load(doc, body)) return Malformed("CopyObject", body);
  pugi::xml_node root = doc.child("CopyObjectResult");
  if (!root || Text(root, "ETag").empty()) return Malformed("CopyObject", body);
  CopyObjectResult out{Text(root, "ETag")};
  int32_t nanos = 0;
  if (!ParseIso8601(Text(root, "LastModified"), &out.last_modified, &nanos)) out.last_modified = 0;
  return out;
}

Result<UploadPartResult> ParseCopyPartResult(std::string_view body, int part_number) {
  pugi::xml_document doc;
  if (!Load(doc, body)) return Malformed("UploadPartCopy", body);
  pugi::xml_node root = doc.child("CopyPartResult");
  if (!root || Text(root, "ETag").empty()) return Malformed("UploadPartCopy", body);
  return UploadPartResult{
      CompletedPart{part_number, Text(root, "ETag"), Text(root, "ChecksumCRC32C")}};
}

std::string BuildCompleteMultipartUpload(const std::vector<CompletedPart>& parts) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("CompleteMultipartUpload");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  for (const CompletedPart& p : parts) {
    pugi::xml_node part = root.append_child("Part");
    part.append_child("PartNumber").text().set(p.part_number);
    part.append_child("ETag").text().set(p.etag.c_str());
    if (!p.checksum_crc32c.empty()) {
      part.append_child("ChecksumCRC32C").text().set(p.checksum_crc32c.c_str());
    }
  }
  struct Writer : pugi::xml_writer {
    std::string out;
    void write(const void* data, size_t size) override {
      out.append(static_cast<const char*>(data), size);
    }
  } writer;
  doc.save(writer, "", pugi::format_raw | pugi::format_no_declaration);
  return writer.out;
}

bool ParseIso8601(const std::string& s, int64_t* seconds, int32_t* nanos) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int32_t ns = 0;
  size_t i = static_cast<size_t>(consumed);
  if (i < s.size() && s[i] == '.') {
    int32_t scale = 100000000;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      ns += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  *seconds = timegm(&tm);
  *nanos = ns;
  return true;
}

bool ParseHttpDate(const std::string& s, int64_t* seconds) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return false;
  *seconds = timegm(&tm);
  return true;
}

}  // namespace s3m
