// Credentials from STS AssumeRoleWithWebIdentity (EKS IRSA, GitHub OIDC, ...): the role
// and token file come from AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (+
// AWS_ROLE_SESSION_NAME) or from the profile's role_arn + web_identity_token_file.
// The request is unsigned: the token is the proof. Thread-safe: the provider holds only
// immutable settings and re-reads the token file on every call; the cache wraps it.
#include <pugixml.hpp>

#include <cctype>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "http/http_client.h"
#include "s3/credential_parsing.h"
#include "s3/credential_providers.h"
#include "s3/profile_files.h"

namespace s3m {
namespace {

// STS is a remote regional service, slower than the link-local endpoints.
constexpr std::chrono::milliseconds kStsTimeout{10000};
constexpr char kStsApiVersion[] = "2011-06-15";

struct WebIdentityConfig {
  std::string role_arn;
  std::string token_file;
  std::string session_name;  // empty: generated
  std::string origin;        // "environment" or "profile NAME", for messages
};

// RFC 3986 unreserved characters stay, everything else is %XX (form encoding).
std::string FormEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string StsEndpoint(const CredentialsOptions& options) {
  for (const char* var : {"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"}) {
    auto v = options.getenv(var);
    if (v && !v->empty()) return *v;
  }
  return "https://sts." + ResolveRegion("", options, /*ask_imds=*/false) + ".amazonaws.com";
}

std::optional<WebIdentityConfig> FindConfig(const CredentialsOptions& options) {
  auto file = options.getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
  auto role = options.getenv("AWS_ROLE_ARN");
  if (file && !file->empty() && role && !role->empty()) {
    auto session = options.getenv("AWS_ROLE_SESSION_NAME");
    return WebIdentityConfig{*role, *file, session.value_or(""), "environment"};
  }
  LoadedProfile profile = LoadProfile(options);
  auto setting = [&profile](const char* key) {
    auto it = profile.settings.find(key);
    return it == profile.settings.end() ? std::string() : it->second;
  };
  if (setting("role_arn").empty() || setting("web_identity_token_file").empty()) {
    return std::nullopt;
  }
  return WebIdentityConfig{setting("role_arn"), setting("web_identity_token_file"),
                           setting("role_session_name"), "profile " + profile.name};
}

// Credentials from an AssumeRoleWithWebIdentityResponse, or the STS error it carries.
Result<Credentials> ParseStsResponse(const HttpResponse& response, const std::string& what) {
  pugi::xml_document doc;
  bool parsed = doc.load_buffer(response.body.data(), response.body.size());
  if (response.status != 200) {
    pugi::xml_node error = doc.child("ErrorResponse").child("Error");
    std::string code = error.child_value("Code");
    std::string message = error.child_value("Message");
    return Status(Code::kAccessDenied, what + " failed: " +
                                           (code.empty() ? "HTTP " + std::to_string(response.status)
                                                         : code + ": " + message))
        .set_http_status(response.status)
        .set_s3_code(code);
  }
  pugi::xml_node c = doc.child("AssumeRoleWithWebIdentityResponse")
                         .child("AssumeRoleWithWebIdentityResult")
                         .child("Credentials");
  Credentials creds;
  creds.access_key_id = c.child_value("AccessKeyId");
  creds.secret_access_key = c.child_value("SecretAccessKey");
  creds.session_token = c.child_value("SessionToken");
  creds.source = "web identity";
  creds.expiration = ParseIso8601(c.child_value("Expiration"));
  if (!parsed || creds.access_key_id.empty() || creds.secret_access_key.empty() ||
      !creds.expiration) {
    return Status(Code::kInternal, what + ": STS answer lacks Credentials");
  }
  return creds;
}

class WebIdentityProvider final : public CredentialsProvider {
 public:
  explicit WebIdentityProvider(const CredentialsOptions& options) : options_(options) {
    if (options_.clock == nullptr) options_.clock = RealClock::Get();
  }

  Result<Credentials> Get() override {
    std::optional<WebIdentityConfig> config = FindConfig(options_);
    if (!config) {
      return Status(Code::kNotFound,
                    "web identity (AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN unset)");
    }
    std::string what =
        "STS AssumeRoleWithWebIdentity for " + config->role_arn + " (from " + config->origin + ")";
    std::ifstream in(config->token_file, std::ios::binary);
    if (!in) {
      return Status(Code::kIo, what + ": cannot read the token file " + config->token_file);
    }
    std::ostringstream token;
    token << in.rdbuf();
    HttpResponse response = FetchBlocking(Request(*config, TrimSpace(token.str())));
    if (!response.transport.ok()) {
      return Status(response.transport.code(), what + ": " + response.transport.message());
    }
    Result<Credentials> creds = ParseStsResponse(response, what);
    if (creds.ok()) S3M_DEBUG("credentials: {}", what);
    return creds;
  }

 private:
  SimpleHttpRequest Request(const WebIdentityConfig& config, const std::string& token) const {
    std::string session = config.session_name;
    if (session.empty()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
          options_.clock->Now().time_since_epoch());
      session = "s3mount-" + std::to_string(ms.count());
    }
    SimpleHttpRequest request;  // POST, so the token stays out of URLs and logs
    request.method = "POST";
    request.url = StsEndpoint(options_);
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Accept", "application/xml"}};
    request.body = "Action=AssumeRoleWithWebIdentity&Version=" + std::string(kStsApiVersion) +
                   "&RoleArn=" + FormEncode(config.role_arn) +
                   "&RoleSessionName=" + FormEncode(session) +
                   "&WebIdentityToken=" + FormEncode(token);
    request.timeout = kStsTimeout;
    return request;
  }

  CredentialsOptions options_;
};

}  // namespace

std::unique_ptr<CredentialsProvider> NewWebIdentityCredentialsProvider(
    const CredentialsOptions& options) {
  Clock* clock = options.clock != nullptr ? options.clock : RealClock::Get();
  return NewCachingCredentialsProvider(std::make_unique<WebIdentityProvider>(options), clock);
}

}  // namespace s3m
