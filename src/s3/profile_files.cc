// INI parsing and loading of the AWS shared configuration files (see profile_files.h).
#include "s3/profile_files.h"

#include <fstream>
#include <sstream>

#include "s3/credential_parsing.h"

namespace s3m {
namespace {

bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}

// Cuts a trailing "  # comment" or "  ; comment" (only after whitespace, so that
// values such as URLs with '#' survive).
std::string StripInlineComment(std::string_view value) {
  for (size_t i = 1; i < value.size(); ++i) {
    if ((value[i] == '#' || value[i] == ';') && IsBlank(value[i - 1])) {
      return TrimSpace(value.substr(0, i));
    }
  }
  return TrimSpace(value);
}

// The profile a section header names, or "" for a section to ignore.
std::string SectionProfile(std::string_view header, ProfileFileKind kind) {
  std::string name = TrimSpace(header);
  if (kind == ProfileFileKind::kCredentials || name == "default") return name;
  constexpr std::string_view kPrefix = "profile";
  if (name.size() > kPrefix.size() && name.compare(0, kPrefix.size(), kPrefix) == 0 &&
      IsBlank(name[kPrefix.size()])) {
    return TrimSpace(std::string_view(name).substr(kPrefix.size()));
  }
  return "";  // [sso-session x], [services x], or a bare [x] in the config file
}

struct ParseState {
  ProfileSettings* section = nullptr;  // nullptr: outside a profile section
  std::string last_key;
};

void ParseLine(std::string_view raw, ProfileFileKind kind, ProfileSections* out,
               ParseState* state) {
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  std::string line = TrimSpace(raw);
  if (line.empty() || line[0] == '#' || line[0] == ';') return;
  if (line[0] == '[') {
    size_t close = line.find(']');
    std::string name = close == std::string::npos
                           ? ""
                           : SectionProfile(std::string_view(line).substr(1, close - 1), kind);
    state->section = name.empty() ? nullptr : &(*out)[name];
    state->last_key.clear();
    return;
  }
  if (state->section == nullptr) return;
  if (IsBlank(raw[0]) && !state->last_key.empty()) {  // continuation / sub-property
    std::string& value = (*state->section)[state->last_key];
    value += value.empty() ? line : "\n" + line;
    return;
  }
  size_t eq = line.find('=');
  if (eq == std::string::npos) return;  // malformed: ignored, like the SDKs
  std::string key = TrimSpace(std::string_view(line).substr(0, eq));
  if (key.empty()) return;
  (*state->section)[key] = StripInlineComment(std::string_view(line).substr(eq + 1));
  state->last_key = key;
}

// The file's sections; empty when it does not exist or cannot be read.
ProfileSections ReadProfileFile(const std::string& path, ProfileFileKind kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return ParseProfileFile(text.str(), kind);
}

std::string Home(const CredentialsOptions& options) {
  if (!options.home.empty()) return options.home;
  return options.getenv("HOME").value_or("");
}

std::string ExpandHome(const std::string& path, const std::string& home) {
  if (path == "~") return home;
  if (path.rfind("~/", 0) == 0) return home + path.substr(1);
  return path;
}

std::string PathFromEnv(const CredentialsOptions& options, const char* var,
                        const char* default_name) {
  std::string home = Home(options);
  auto value = options.getenv(var);
  if (value && !value->empty()) return ExpandHome(*value, home);
  return home + "/.aws/" + default_name;
}

}  // namespace

ProfileSections ParseProfileFile(std::string_view text, ProfileFileKind kind) {
  ProfileSections out;
  ParseState state;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    ParseLine(line, kind, &out, &state);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  return out;
}

ProfilePaths ResolveProfilePaths(const CredentialsOptions& options) {
  return ProfilePaths{PathFromEnv(options, "AWS_SHARED_CREDENTIALS_FILE", "credentials"),
                      PathFromEnv(options, "AWS_CONFIG_FILE", "config")};
}

std::string ResolveProfileName(const CredentialsOptions& options) {
  if (!options.profile.empty()) return options.profile;
  auto env = options.getenv("AWS_PROFILE");
  if (env && !env->empty()) return *env;
  return "default";
}

LoadedProfile LoadProfile(const CredentialsOptions& options) {
  LoadedProfile p;
  p.name = ResolveProfileName(options);
  auto env = options.getenv("AWS_PROFILE");
  p.named_explicitly = !options.profile.empty() || (env && !env->empty());
  p.paths = ResolveProfilePaths(options);
  ProfileSections config = ReadProfileFile(p.paths.config, ProfileFileKind::kConfig);
  ProfileSections creds = ReadProfileFile(p.paths.credentials, ProfileFileKind::kCredentials);
  for (const ProfileSections* file : {&config, &creds}) {  // credentials file wins
    auto it = file->find(p.name);
    if (it == file->end()) continue;
    p.found = true;
    for (const auto& [key, value] : it->second) p.settings[key] = value;
  }
  return p;
}

Status MissingProfileError(const LoadedProfile& profile) {
  return Status(Code::kInvalidArgument,
                "AWS profile \"" + profile.name + "\" not found in " + profile.paths.credentials +
                    " or " + profile.paths.config +
                    ": add it there, or choose another with --profile or AWS_PROFILE");
}

}  // namespace s3m
