// The AWS shared configuration files: ~/.aws/credentials and ~/.aws/config (or the files
// AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE name), their INI syntax, and which
// profile applies. Pure functions plus file reads; any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/status.h"
#include "s3/credentials.h"

namespace s3m {

using ProfileSettings = std::map<std::string, std::string>;
using ProfileSections = std::map<std::string, ProfileSettings>;  // by profile name

enum class ProfileFileKind {
  kCredentials,  // sections are [NAME]
  kConfig,       // sections are [default] and [profile NAME]; others are ignored
};

// Parses one file. Full-line comments start with # or ;. In a value, a # or ; that
// follows whitespace starts a comment. Indented lines continue the previous value
// (sub-properties). Repeated sections merge, later keys winning.
ProfileSections ParseProfileFile(std::string_view text, ProfileFileKind kind);

struct ProfilePaths {
  std::string credentials;  // AWS_SHARED_CREDENTIALS_FILE, else HOME/.aws/credentials
  std::string config;       // AWS_CONFIG_FILE, else HOME/.aws/config
};
ProfilePaths ResolveProfilePaths(const CredentialsOptions& options);

// options.profile, else AWS_PROFILE, else "default".
std::string ResolveProfileName(const CredentialsOptions& options);

struct LoadedProfile {
  std::string name;
  bool named_explicitly = false;  // by options.profile or AWS_PROFILE
  bool found = false;             // a section exists in either file
  ProfileSettings settings;       // config values, overridden by credentials-file values
  ProfilePaths paths;
};

// Reads both files (a missing file counts as empty) and merges the profile's settings.
LoadedProfile LoadProfile(const CredentialsOptions& options);

// The error for a profile that was named but exists in neither file.
Status MissingProfileError(const LoadedProfile& profile);

}  // namespace s3m
