#include "s3/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <vector>

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

namespace {

Status BadEndpoint(const std::string& msg) {
  return Status(Code::kInvalidArgument, msg);
}

// amazonaws.com, or amazonaws.com.cn for the China partition.
std::string AwsDomain(const std::string& partition_or_region) {
  bool china = partition_or_region == "aws-cn" || partition_or_region.rfind("cn-", 0) == 0;
  return china ? "amazonaws.com.cn" : "amazonaws.com";
}

// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (bucket_name.h checked its form).
Result<Endpoint> ResolveArn(const EndpointOptions& options) {
  std::vector<std::string> f;
  size_t pos = 0;
  for (int i = 0; i < 5; i++) {
    size_t colon = options.bucket.find(':', pos);
    if (colon == std::string::npos) return BadEndpoint("malformed ARN '" + options.bucket + "'");
    f.push_back(options.bucket.substr(pos, colon - pos));
    pos = colon + 1;
  }
  std::string resource = options.bucket.substr(pos);
  const std::string &partition = f[1], &service = f[2], &region = f[3], &account = f[4];
  if (region.empty()) {
    return BadEndpoint("multi-region access point '" + options.bucket +
                       "' needs SigV4A signing, which s3mount does not implement");
  }
  std::replace(resource.begin(), resource.end(), ':', '/');
  auto parts = [&resource] {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t slash; (slash = resource.find('/', start)) != std::string::npos;
         start = slash + 1) {
      out.push_back(resource.substr(start, slash - start));
    }
    out.push_back(resource.substr(start));
    return out;
  }();
  std::string dual = options.dual_stack ? ".dualstack" : "";
  std::string domain = AwsDomain(partition);
  Endpoint e;
  e.scheme = "https";
  e.signing_region = region;
  e.signing_service = service;
  if (service == "s3" && parts.size() == 2 && parts[0] == "accesspoint") {
    e.host = parts[1] + "-" + account + ".s3-accesspoint" + dual + "." + region + "." + domain;
  } else if (service == "s3-object-lambda" && parts.size() == 2 && parts[0] == "accesspoint") {
    e.host = parts[1] + "-" + account + ".s3-object-lambda." + region + "." + domain;
  } else if (service == "s3-outposts" && parts.size() == 4 && parts[0] == "outpost" &&
             parts[2] == "accesspoint") {
    e.host = parts[3] + "-" + account + "." + parts[1] + ".s3-outposts." + region + "." + domain;
  } else {
    return BadEndpoint("unsupported ARN '" + options.bucket + "': give an access point ARN");
  }
  e.base_url = e.scheme + "://" + e.host;
  return e;
}

// The AWS host for a bucket: regional, dual-stack or accelerated.
std::string AwsHost(const EndpointOptions& options) {
  std::string dual = options.dual_stack ? ".dualstack" : "";
  if (options.transfer_acceleration) return "s3-accelerate" + dual + "." + AwsDomain("");
  return "s3" + dual + "." + options.region + "." + AwsDomain(options.region);
}

}  // namespace

Result<Endpoint> ResolveEndpoint(const EndpointOptions& options, const GetEnvFn& getenv) {
  std::string url = options.endpoint_url;
  for (const char* var : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}) {
    if (!url.empty()) break;
    if (auto v = getenv(var)) url = *v;
  }
  Endpoint e;
  bool custom = !url.empty();
  if (custom && (options.transfer_acceleration || options.dual_stack)) {
    return BadEndpoint(
        std::string(options.transfer_acceleration ? "--transfer-acceleration" : "--dual-stack") +
        " chooses an AWS endpoint, so it cannot be used with the custom endpoint " + url +
        " (--endpoint-url, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)");
  }
  if (options.bucket.rfind("arn:", 0) == 0) {
    if (custom) {
      return BadEndpoint(
          "an access point ARN names its own AWS endpoint: drop the custom "
          "endpoint " +
          url + " or mount the access point's alias");
    }
    return ResolveArn(options);
  }
  if (!custom) {
    e.scheme = "https";
    e.host = AwsHost(options);
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
  // Acceleration exists only under the bucket's own name.
  if (path_style && options.transfer_acceleration) {
    return BadEndpoint("--transfer-acceleration needs virtual-hosted addressing: bucket '" +
                       options.bucket + "' cannot be a host name, or --force-path-style is set");
  }
  if (path_style) {
    e.path_prefix = "/" + UriEncode(options.bucket, false);
  } else {
    e.host = options.bucket + "." + e.host;
  }
  e.base_url = e.scheme + "://" + e.host;
  return e;
}

}  // namespace s3m
