// Credentials::Describe, the static, environment and shared-file providers, the default
// chain and region resolution (see credentials.h and credential_providers.h).
// Thread-safe: providers here hold only immutable settings.
#include "s3/credentials.h"

#include <cstdlib>

#include "common/log.h"
#include "s3/credential_parsing.h"
#include "s3/credential_providers.h"
#include "s3/imds.h"
#include "s3/profile_files.h"

namespace s3m {
namespace {

constexpr char kDefaultRegion[] = "us-east-1";
constexpr char kRegionPath[] = "/latest/meta-data/placement/region";

// Profile settings that mean "credentials come from somewhere s3mount cannot reach".
constexpr const char* kUnsupportedProfileKeys[] = {
    "source_profile", "credential_source", "credential_process", "sso_session", "sso_start_url"};

std::string NonEmpty(const std::optional<std::string>& v) {
  return v.value_or("");
}

class StaticProvider final : public CredentialsProvider {
 public:
  explicit StaticProvider(Credentials c) : credentials_(std::move(c)) {
    if (credentials_.source.empty()) credentials_.source = "explicit";
  }
  Result<Credentials> Get() override { return credentials_; }

 private:
  Credentials credentials_;  // set once in the constructor
};

class EnvironmentProvider final : public CredentialsProvider {
 public:
  explicit EnvironmentProvider(GetEnvFn getenv) : getenv_(std::move(getenv)) {}

  Result<Credentials> Get() override {
    Credentials c;
    c.access_key_id = NonEmpty(getenv_("AWS_ACCESS_KEY_ID"));
    c.secret_access_key = NonEmpty(getenv_("AWS_SECRET_ACCESS_KEY"));
    c.session_token = NonEmpty(getenv_("AWS_SESSION_TOKEN"));
    c.source = "environment";
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return Status(Code::kNotFound, "environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY unset)");
    }
    return c;
  }

 private:
  GetEnvFn getenv_;
};

class ProfileProvider final : public CredentialsProvider {
 public:
  explicit ProfileProvider(const CredentialsOptions& options) : options_(options) {}

  Result<Credentials> Get() override {
    LoadedProfile p = LoadProfile(options_);
    std::string where =
        "profile \"" + p.name + "\" in " + p.paths.credentials + " and " + p.paths.config;
    if (!p.found) {
      if (p.named_explicitly) return MissingProfileError(p);
      return Status(Code::kNotFound, where + " (not found)");
    }
    Credentials c;
    c.access_key_id = Setting(p, "aws_access_key_id");
    c.secret_access_key = Setting(p, "aws_secret_access_key");
    c.session_token = Setting(p, "aws_session_token");
    c.source = "profile " + p.name;
    if (!c.access_key_id.empty() && !c.secret_access_key.empty()) return c;
    if (!c.access_key_id.empty() || !c.secret_access_key.empty()) {
      return Status(Code::kInvalidArgument,
                    where + " has only one of aws_access_key_id and aws_secret_access_key");
    }
    if (!Setting(p, "web_identity_token_file").empty()) {
      return Status(Code::kNotFound, where + " (uses web identity)");
    }
    for (const char* key : kUnsupportedProfileKeys) {
      if (!Setting(p, key).empty()) {
        return Status(Code::kNotSupported,
                      where + " gets credentials through " + key +
                          ", which s3mount does not support: export them first (for example "
                          "`aws configure export-credentials --format env`)");
      }
    }
    return Status(Code::kNotFound, where + " (no aws_access_key_id)");
  }

 private:
  static std::string Setting(const LoadedProfile& p, const char* key) {
    auto it = p.settings.find(key);
    return it == p.settings.end() ? std::string() : it->second;
  }

  CredentialsOptions options_;
};

std::string MaskKeyId(const std::string& id) {
  constexpr size_t kShown = 4;  // like the AWS console: enough to tell keys apart
  if (id.size() < 3 * kShown) return "****";
  return id.substr(0, kShown) + "****" + id.substr(id.size() - kShown);
}

}  // namespace

std::string Credentials::Describe() const {
  std::string out =
      (source.empty() ? std::string("unknown source") : source) + " " + MaskKeyId(access_key_id);
  if (!session_token.empty()) out += " (session)";
  if (expiration) out += ", expires " + FormatIso8601(*expiration);
  return out;
}

GetEnvFn MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

GetEnvFn ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::unique_ptr<CredentialsProvider> NewStaticCredentialsProvider(Credentials credentials) {
  return std::make_unique<StaticProvider>(std::move(credentials));
}

std::unique_ptr<CredentialsProvider> NewEnvironmentCredentialsProvider(
    const CredentialsOptions& options) {
  return std::make_unique<EnvironmentProvider>(options.getenv);
}

std::unique_ptr<CredentialsProvider> NewProfileCredentialsProvider(
    const CredentialsOptions& options) {
  Clock* clock = options.clock != nullptr ? options.clock : RealClock::Get();
  return NewCachingCredentialsProvider(std::make_unique<ProfileProvider>(options), clock);
}

namespace {
// The environment with the variables that name credentials outside the profile hidden.
GetEnvFn WithoutCredentialVariables(GetEnvFn getenv) {
  return [getenv = std::move(getenv)](const std::string& name) -> std::optional<std::string> {
    for (const char* hidden : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                               "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"}) {
      if (name == hidden) return std::nullopt;
    }
    return getenv(name);
  };
}
}  // namespace

std::unique_ptr<CredentialsProvider> NewDefaultCredentialsChain(const CredentialsOptions& options) {
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  if (options.explicit_credentials) {
    providers.push_back(NewStaticCredentialsProvider(*options.explicit_credentials));
  }
  if (!options.profile.empty()) {
    // A profile named on the command line is the only source, as in Mountpoint: keys in the
    // environment must not silently replace the ones the user chose.
    CredentialsOptions only_profile = options;
    only_profile.getenv = WithoutCredentialVariables(options.getenv);
    providers.push_back(NewProfileCredentialsProvider(only_profile));
    providers.push_back(NewWebIdentityCredentialsProvider(only_profile));
    return NewCredentialsChain(std::move(providers));
  }
  providers.push_back(NewEnvironmentCredentialsProvider(options));
  providers.push_back(NewProfileCredentialsProvider(options));
  providers.push_back(NewWebIdentityCredentialsProvider(options));
  providers.push_back(NewContainerCredentialsProvider(options));
  providers.push_back(NewImdsCredentialsProvider(options));
  return NewCredentialsChain(std::move(providers));
}

std::string ResolveRegion(const std::string& explicit_region, const CredentialsOptions& options,
                          bool ask_imds) {
  if (!explicit_region.empty()) return explicit_region;
  for (const char* var : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    std::string v = NonEmpty(options.getenv(var));
    if (!v.empty()) return v;
  }
  LoadedProfile profile = LoadProfile(options);
  if (auto it = profile.settings.find("region");
      it != profile.settings.end() && !it->second.empty()) {
    return it->second;
  }
  if (ask_imds && !ImdsDisabled(options.getenv)) {
    Result<std::string> region = ImdsClient(options.getenv).Get(kRegionPath);
    if (region.ok() && !TrimSpace(*region).empty()) return TrimSpace(*region);
    S3M_DEBUG("region: {}", region.ok() ? "IMDS gave none" : region.status().message());
  }
  return kDefaultRegion;
}

}  // namespace s3m
