// EC2 IMDSv2 client and the instance-role credentials provider (see imds.h).
#include "s3/imds.h"

#include "common/log.h"
#include "http/http_client.h"
#include "s3/credential_parsing.h"
#include "s3/credential_providers.h"

namespace s3m {
namespace {

constexpr char kTokenPath[] = "/latest/api/token";
constexpr char kRolesPath[] = "/latest/meta-data/iam/security-credentials/";

// Sends `request` up to kImdsAttempts times while the transport fails or IMDS answers 5xx.
HttpResponse FetchWithRetry(const SimpleHttpRequest& request) {
  HttpResponse response;
  for (int attempt = 0; attempt < kImdsAttempts; ++attempt) {
    response = FetchBlocking(request);
    if (response.transport.ok() && response.status < 500) break;
  }
  return response;
}

// kNotFound naming the endpoint, so the chain reports IMDS as "not available".
Status Unavailable(const std::string& endpoint, const std::string& what,
                   const HttpResponse& response) {
  std::string detail = !response.transport.ok() ? response.transport.message()
                                                : "HTTP " + std::to_string(response.status);
  return Status(Code::kNotFound,
                "EC2 instance metadata (" + endpoint + ") " + what + ": " + detail);
}

class ImdsProvider final : public CredentialsProvider {
 public:
  explicit ImdsProvider(const CredentialsOptions& options)
      : getenv_(options.getenv), client_(options.getenv) {}

  Result<Credentials> Get() override {
    if (ImdsDisabled(getenv_)) {
      return Status(Code::kNotFound,
                    "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
    }
    return client_.GetRoleCredentials();
  }

 private:
  GetEnvFn getenv_;
  ImdsClient client_;
};

}  // namespace

bool ImdsDisabled(const GetEnvFn& getenv) {
  return IsTrue(getenv("AWS_EC2_METADATA_DISABLED"));
}

ImdsClient::ImdsClient(const GetEnvFn& getenv) {
  auto env = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  endpoint_ = env && !env->empty() ? *env : kDefaultImdsEndpoint;
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
}

Result<std::string> ImdsClient::FetchToken() const {
  SimpleHttpRequest request;
  request.method = "PUT";
  request.url = endpoint_ + kTokenPath;
  request.headers = {
      {"X-aws-ec2-metadata-token-ttl-seconds", std::to_string(kImdsTokenTtlSeconds)}};
  request.timeout = kImdsTimeout;
  HttpResponse response = FetchWithRetry(request);
  if (!response.transport.ok() || response.status != 200 || response.body.empty()) {
    return Unavailable(endpoint_, "gave no session token", response);
  }
  return response.body;
}

Result<std::string> ImdsClient::GetWithToken(const std::string& path,
                                             const std::string& token) const {
  SimpleHttpRequest request;
  request.url = endpoint_ + path;
  request.headers = {{"X-aws-ec2-metadata-token", token}};
  request.timeout = kImdsTimeout;
  HttpResponse response = FetchWithRetry(request);
  if (!response.transport.ok() || response.status != 200) {
    return Unavailable(endpoint_, "failed on " + path, response);
  }
  return response.body;
}

Result<std::string> ImdsClient::Get(const std::string& path) const {
  Result<std::string> token = FetchToken();
  if (!token.ok()) return token.status();
  return GetWithToken(path, *token);
}

Result<Credentials> ImdsClient::GetRoleCredentials() const {
  Result<std::string> token = FetchToken();
  if (!token.ok()) return token.status();
  Result<std::string> roles = GetWithToken(kRolesPath, *token);
  if (!roles.ok()) return roles.status();
  std::string role = TrimSpace(roles->substr(0, roles->find('\n')));  // the first role
  if (role.empty()) {
    return Status(Code::kNotFound,
                  "EC2 instance metadata (" + endpoint_ + "): the instance has no IAM role");
  }
  Result<std::string> body = GetWithToken(kRolesPath + role, *token);
  if (!body.ok()) return body.status();
  Result<Credentials> creds = ParseJsonCredentials(*body, "imds");
  if (creds.ok()) S3M_DEBUG("credentials: instance role {} from {}", role, endpoint_);
  return creds;
}

std::unique_ptr<CredentialsProvider> NewImdsCredentialsProvider(const CredentialsOptions& options) {
  Clock* clock = options.clock != nullptr ? options.clock : RealClock::Get();
  return NewCachingCredentialsProvider(std::make_unique<ImdsProvider>(options), clock);
}

}  // namespace s3m
