// AWS credentials and the providers that find them, in the AWS SDKs' default order:
// explicit, environment, shared files (credentials + config, AWS_PROFILE), web identity
// token file, container endpoint, EC2 IMDSv2.
//
// Providers are thread-safe. Get() may block (file reads, a local HTTP call to IMDS or
// the container endpoint) on the first call and when cached credentials come within
// kRefreshAhead of expiry; otherwise it returns the cached value at once.
// Credentials are never logged: Credentials has no operator<< and ToString() masks them.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace s3m {

// Cached credentials are refreshed this long before they expire, so that a request
// signed just before expiry still reaches S3 in time (the AWS SDKs use 5 minutes too).
inline constexpr std::chrono::minutes kRefreshAhead{5};

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty when none
  std::optional<std::chrono::system_clock::time_point> expiration;
  std::string source;  // "environment", "profile default", "imds", ... for logs

  // For logs: the source and a masked key id ("AKIA****MPLE"), never the secret.
  std::string Describe() const;
};

// Reads an environment variable; tests substitute a map.
using GetEnvFn = std::function<std::optional<std::string>(const std::string&)>;
GetEnvFn ProcessEnv();
// A fixed environment, for tests and tools.
GetEnvFn MapEnv(std::map<std::string, std::string> vars);

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Credentials, or kAccessDenied/kNotFound saying what was tried and what to set.
  virtual Result<Credentials> Get() = 0;
};

struct CredentialsOptions {
  std::optional<Credentials> explicit_credentials;
  std::string profile;  // --profile; empty means AWS_PROFILE or "default"
  GetEnvFn getenv = ProcessEnv();
  Clock* clock = nullptr;  // nullptr means RealClock
  std::string home;        // for ~/.aws; empty means $HOME
};

// The default chain, as the AWS SDKs order it; with options.profile set (--profile), that
// profile alone (its keys or its web identity role), ignoring credentials in the environment.
std::unique_ptr<CredentialsProvider> NewDefaultCredentialsChain(const CredentialsOptions& options);

// Region: explicit, AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, IMDS
// (only when `ask_imds`), else "us-east-1".
std::string ResolveRegion(const std::string& explicit_region, const CredentialsOptions& options,
                          bool ask_imds);

}  // namespace s3m
