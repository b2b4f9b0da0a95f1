// The EC2 instance metadata service, version 2 (session tokens): the instance role's
// credentials and the instance's region. Each call is blocking and stateless (a fresh
// token per look-up; look-ups are rare), so any thread may call it.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"
#include "s3/credentials.h"

namespace s3m {

// The link-local address every EC2 instance answers on.
inline constexpr char kDefaultImdsEndpoint[] = "http://169.254.169.254";
// Short, so that a machine outside EC2 gives up quickly: a real IMDS answers in
// milliseconds. Each request is tried kImdsAttempts times.
inline constexpr std::chrono::milliseconds kImdsTimeout{1000};
inline constexpr int kImdsAttempts = 2;
// Token lifetime requested on PUT /latest/api/token: 6 hours, the maximum IMDS allows.
inline constexpr int kImdsTokenTtlSeconds = 21600;

// AWS_EC2_METADATA_DISABLED=true.
bool ImdsDisabled(const GetEnvFn& getenv);

class ImdsClient {
 public:
  // AWS_EC2_METADATA_SERVICE_ENDPOINT, else kDefaultImdsEndpoint.
  explicit ImdsClient(const GetEnvFn& getenv);

  // GET `path` (e.g. "/latest/meta-data/placement/region") with a fresh session token.
  // kNotFound when IMDS cannot be reached or refuses; the message names the endpoint.
  Result<std::string> Get(const std::string& path) const;

  // The instance role's credentials (source "imds").
  Result<Credentials> GetRoleCredentials() const;

  const std::string& endpoint() const { return endpoint_; }

 private:
  Result<std::string> FetchToken() const;
  Result<std::string> GetWithToken(const std::string& path, const std::string& token) const;

  std::string endpoint_;
};

}  // namespace s3m
