#include "s3/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "s3/sigv4.h"

namespace s3m {
namespace {

bool IsIpAddress(const std::string& host) {
  std::string h = host;
  if (!h.empty() && h.front() == '[') return true;  // [v6]
  auto colon = h.rfind(':');
  if (colon != std::string::npos) h = h.substr(0, colon);
  in_addr a4;
  return inet_pton(AF_INET, h.c_str(), &a4) == 1;
}

bool IsLocalhost(const std::string& host) {
  return host == "localhost" || host.rfind("localhost:", 0) == 0;
}

bool DnsCompatible(const std::string& bucket, bool https) {
  if (https && bucket.find('.') != std::string::npos) return false;  // breaks the TLS wildcard
  return std::all_of(bucket.begin(), bucket.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-' || c == '.';
  });
}

}  // namespace

std::string Endpoint::KeyPath(const std::string& key) const {
  return path_prefix + "/" + UriEncode(key, /*keep_slash=*/true);
}

std::string Endpoint::BucketPath() const {
  return path_prefix + "/";
}

Status ValidateBucketName(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) {
    return Status(Code::kInvalidArgument,
                  "invalid bucket name '" + bucket + "': it must be 3 to 63 characters long");
  }
  for (unsigned char c : bucket) {
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_')) {
      return Status(Code::kInvalidArgument,
                    "invalid bucket name '" + bucket +
                        "': only letters, digits, '.', '-' and '_' are allowed");
    }
  }
  return Status::Ok();
}

Result<Endpoint> ResolveEndpoint(const EndpointOptions& options, const GetEnvFn& getenv) {
  std::string url = options.endpoint_url;
  for (const char* var : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}) {
    if (!url.empty()) break;
    if (auto v = getenv(var)) url = *v;
  }
  Endpoint e;
  bool custom = !url.empty();
  if (!custom) {
    e.scheme = "https";
    e.host = "s3." + options.region + ".amazonaws.com";
  } else {
    auto sep = url.find("://");
    if (sep == std::string::npos) {
      return Status(
          Code::kInvalidArgument,
          "invalid endpoint URL '" + url + "': expected http://HOST[:PORT] or https://HOST[:PORT]");
    }
    e.scheme = url.substr(0, sep);
    std::transform(e.scheme.begin(), e.scheme.end(), e.scheme.begin(), ::tolower);
    e.host = url.substr(sep + 3);
    while (!e.host.empty() && e.host.back() == '/') e.host.pop_back();
    if ((e.scheme != "http" && e.scheme != "https") || e.host.empty() ||
        e.host.find('/') != std::string::npos) {
      return Status(
          Code::kInvalidArgument,
          "invalid endpoint URL '" + url + "': expected http://HOST[:PORT] or https://HOST[:PORT]");
    }
  }
  bool path_style = options.force_path_style || IsIpAddress(e.host) || IsLocalhost(e.host) ||
                    !DnsCompatible(options.bucket, e.scheme == "https");
  if (path_style) {
    e.path_prefix = "/" + UriEncode(options.bucket, false);
  } else {
    e.host = options.bucket + "." + e.host;
  }
  e.base_url = e.scheme + "://" + e.host;
  return e;
}

}  // namespace s3m
