// Tests of the shared config file parser and profile selection (profile_files.h).
#include "s3/profile_files.h"

#include <gtest/gtest.h>

#include <map>

namespace s3m {
namespace {

TEST(ProfileFilesTest, ParsesCredentialsFileSectionsCommentsAndWhitespace) {
  ProfileSections s = ParseProfileFile(
      "# leading comment\n"
      "; another\n"
      "[default]\n"
      "aws_access_key_id=AKIADEFAULT\n"
      "aws_secret_access_key   =   secret/with+chars  ; trailing comment\r\n"
      "\n"
      "[ work ]  # comment after the header\n"
      "aws_access_key_id = AKIAWORK\n"
      "region = eu-west-1 # comment\n"
      "url = http://host/#fragment\n"
      "not a property line\n",
      ProfileFileKind::kCredentials);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s["default"]["aws_access_key_id"], "AKIADEFAULT");
  EXPECT_EQ(s["default"]["aws_secret_access_key"], "secret/with+chars");
  EXPECT_EQ(s["work"]["aws_access_key_id"], "AKIAWORK");
  EXPECT_EQ(s["work"]["region"], "eu-west-1");
  EXPECT_EQ(s["work"]["url"], "http://host/#fragment");
}

TEST(ProfileFilesTest, ConfigFileUsesProfilePrefixExceptForDefault) {
  ProfileSections s = ParseProfileFile(
      "[default]\nregion = us-west-2\n"
      "[profile dev]\nregion = eu-central-1\n"
      "[bare]\nregion = ignored\n"
      "[sso-session corp]\nsso_region = ignored\n"
      "[profile  spaced ]\nregion = ap-south-1\n",
      ProfileFileKind::kConfig);
  EXPECT_EQ(s["default"]["region"], "us-west-2");
  EXPECT_EQ(s["dev"]["region"], "eu-central-1");
  EXPECT_EQ(s["spaced"]["region"], "ap-south-1");
  EXPECT_EQ(s.count("bare"), 0u);
  EXPECT_EQ(s.count("corp"), 0u);
  EXPECT_EQ(s.count("sso-session corp"), 0u);
}

TEST(ProfileFilesTest, SubPropertiesAndRepeatedSections) {
  ProfileSections s = ParseProfileFile(
      "[profile a]\ns3 =\n  max_concurrent_requests = 20\nregion = r1\n"
      "[profile a]\nregion = r2\n",
      ProfileFileKind::kConfig);
  EXPECT_EQ(s["a"]["s3"], "max_concurrent_requests = 20");
  EXPECT_EQ(s["a"]["region"], "r2");
  EXPECT_EQ(s["a"].count("max_concurrent_requests"), 0u);
}

TEST(ProfileFilesTest, PathsComeFromHomeOrEnvironment) {
  CredentialsOptions o;
  o.getenv = MapEnv({{"HOME", "/home/u"}});
  ProfilePaths p = ResolveProfilePaths(o);
  EXPECT_EQ(p.credentials, "/home/u/.aws/credentials");
  EXPECT_EQ(p.config, "/home/u/.aws/config");

  o.home = "/other";
  EXPECT_EQ(ResolveProfilePaths(o).config, "/other/.aws/config");

  o.getenv = MapEnv({{"AWS_SHARED_CREDENTIALS_FILE", "~/creds"}, {"AWS_CONFIG_FILE", "/etc/c"}});
  p = ResolveProfilePaths(o);
  EXPECT_EQ(p.credentials, "/other/creds");
  EXPECT_EQ(p.config, "/etc/c");
}

TEST(ProfileFilesTest, ProfileNameOrder) {
  CredentialsOptions o;
  o.getenv = MapEnv({});
  EXPECT_EQ(ResolveProfileName(o), "default");
  o.getenv = MapEnv({{"AWS_PROFILE", "env"}});
  EXPECT_EQ(ResolveProfileName(o), "env");
  o.profile = "flag";
  EXPECT_EQ(ResolveProfileName(o), "flag");
}

}  // namespace
}  // namespace s3m
