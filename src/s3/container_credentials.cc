// Credentials from the ECS / EKS Pod Identity container endpoint:
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2) or
// AWS_CONTAINER_CREDENTIALS_FULL_URI, with an optional Authorization header from
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or AWS_CONTAINER_AUTHORIZATION_TOKEN.
// Thread-safe: the provider holds only immutable settings; the cache wraps it.
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "http/http_client.h"
#include "s3/credential_parsing.h"
#include "s3/credential_providers.h"

namespace s3m {
namespace {

// The ECS agent's credentials endpoint.
constexpr char kEcsEndpoint[] = "http://169.254.170.2";
// A local agent answers at once; leave room for a loaded node. Tried twice.
constexpr std::chrono::milliseconds kContainerTimeout{2000};
constexpr int kContainerAttempts = 2;

// Whether a FULL_URI may receive the authorization token: HTTPS anywhere, plain HTTP
// only to loopback or the ECS / EKS agent addresses (the rule the AWS SDKs apply).
bool AllowedFullUri(const std::string& uri) {
  if (uri.rfind("https://", 0) == 0) return true;
  constexpr std::string_view kHttp = "http://";
  if (uri.rfind(kHttp, 0) != 0) return false;
  std::string rest = uri.substr(kHttp.size());
  std::string host = rest.substr(0, rest.find('/'));
  if (host.empty() || host.find('@') != std::string::npos) return false;  // no userinfo
  if (host[0] == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]" ||
         host == "169.254.170.2" || host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

std::optional<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return TrimSpace(text.str());
}

class ContainerProvider final : public CredentialsProvider {
 public:
  explicit ContainerProvider(const CredentialsOptions& options) : getenv_(options.getenv) {}

  Result<Credentials> Get() override {
    Result<std::string> url = Url();
    if (!url.ok()) return url.status();
    SimpleHttpRequest request;
    request.url = *url;
    request.timeout = kContainerTimeout;
    if (Status s = AddAuthorization(&request); !s.ok()) return s;
    HttpResponse response;
    for (int attempt = 0; attempt < kContainerAttempts; ++attempt) {
      response = FetchBlocking(request);
      if (response.transport.ok() && response.status < 500) break;
    }
    if (!response.transport.ok()) {
      return Status(Code::kNetwork,
                    "container credentials endpoint " + *url + ": " + response.transport.message());
    }
    if (response.status != 200) {
      return Status(Code::kAccessDenied, "container credentials endpoint " + *url +
                                             " answered HTTP " + std::to_string(response.status));
    }
    return ParseJsonCredentials(response.body, "container");
  }

 private:
  Result<std::string> Url() const {
    auto relative = getenv_("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    if (relative && !relative->empty()) return std::string(kEcsEndpoint) + *relative;
    auto full = getenv_("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!full || full->empty()) {
      return Status(Code::kNotFound,
                    "container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI unset)");
    }
    if (!AllowedFullUri(*full)) {
      return Status(Code::kInvalidArgument,
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback or "
                    "container-agent address");
    }
    return *full;
  }

  Status AddAuthorization(SimpleHttpRequest* request) const {
    std::optional<std::string> token;
    auto file = getenv_("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (file && !file->empty()) {
      token = ReadTokenFile(*file);  // read each time: the agent rotates it
      if (!token) {
        return Status(Code::kIo, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *file);
      }
    } else {
      token = getenv_("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    if (!token || token->empty()) return Status::Ok();
    if (token->find_first_of("\r\n") != std::string::npos) {
      return Status(Code::kInvalidArgument, "the container authorization token has a line break");
    }
    request->headers.emplace_back("Authorization", *token);
    return Status::Ok();
  }

  GetEnvFn getenv_;
};

}  // namespace

std::unique_ptr<CredentialsProvider> NewContainerCredentialsProvider(
    const CredentialsOptions& options) {
  Clock* clock = options.clock != nullptr ? options.clock : RealClock::Get();
  return NewCachingCredentialsProvider(std::make_unique<ContainerProvider>(options), clock);
}

}  // namespace s3m
