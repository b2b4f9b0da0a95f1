// Endpoint resolution: where requests for a bucket go and how they are addressed.
// Pure functions of the configuration; any thread.
#pragma once

#include <string>

#include "common/status.h"
#include "s3/credentials.h"

namespace s3m {

struct EndpointOptions {
  std::string bucket;
  std::string region;        // resolved region (see ResolveRegion)
  std::string endpoint_url;  // --endpoint-url; empty: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS
  bool force_path_style = false;
  bool transfer_acceleration = false;  // BUCKET.s3-accelerate[.dualstack].amazonaws.com
  bool dual_stack = false;             // s3.dualstack.REGION.amazonaws.com (IPv4 and IPv6)
};

struct Endpoint {
  std::string scheme;       // "http" or "https"
  std::string host;         // host[:port] for the Host header
  std::string path_prefix;  // "/bucket" for path-style, "" for virtual-hosted
  std::string base_url;     // scheme://host
  // Set for access point ARNs: the ARN's region and the service that signs for it.
  std::string signing_region;   // empty: the resolved region
  std::string signing_service;  // empty: "s3"

  // The encoded path of an object key ("/bucket/a%20b" or "/a%20b").
  std::string KeyPath(const std::string& key) const;
  // The bucket's own path, for ListObjectsV2 and HeadBucket ("/bucket/" or "/").
  std::string BucketPath() const;
};

// Access point ARNs (arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME, s3-object-lambda and
// s3-outposts) go to the access point's own AWS host, signed for its region and service;
// multi-region access points (which need SigV4A) and ARNs with a custom endpoint are errors.
// Chooses virtual-hosted addressing for AWS and for custom endpoints that are names,
// path-style when forced, for IP-address and localhost endpoints, and for bucket names
// that are not valid DNS labels (dots under https, upper case, underscores).
Result<Endpoint> ResolveEndpoint(const EndpointOptions& options, const GetEnvFn& getenv);

// Checks a bucket name against S3's rules; the message says what is wrong.
Status ValidateBucketName(const std::string& bucket);

}  // namespace s3m
