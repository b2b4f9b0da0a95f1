// Tests of the local credential sources, their order, the cache and the chain, masking,
// and region resolution. No network: IMDS is disabled in every environment here.
#include "s3/credentials.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "s3/credential_parsing.h"
#include "s3/credential_providers.h"

namespace s3m {
namespace {

using namespace std::chrono_literals;
using Env = std::map<std::string, std::string>;

// A temporary HOME with an .aws directory, removed afterwards.
class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "creds-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    home_ = pattern;
    std::filesystem::create_directories(home_ + "/.aws");
  }
  void TearDown() override { std::filesystem::remove_all(home_); }

  void Write(const std::string& relative, const std::string& text) {
    std::ofstream(home_ + "/" + relative) << text;
  }

  // Options with `env`, HOME = the temporary directory and IMDS disabled.
  CredentialsOptions Options(Env env = {}) {
    env.emplace("AWS_EC2_METADATA_DISABLED", "true");
    CredentialsOptions o;
    o.getenv = MapEnv(std::move(env));
    o.home = home_;
    o.clock = &clock_;
    return o;
  }

  Result<Credentials> Get(const CredentialsOptions& o) {
    return NewDefaultCredentialsChain(o)->Get();
  }

  std::string home_;
  FakeClock clock_;
};

const Env kEnvKeys = {{"AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT1"},
                      {"AWS_SECRET_ACCESS_KEY", "env-secret"},
                      {"AWS_SESSION_TOKEN", "env-token"}};

TEST_F(CredentialsTest, Environment) {
  Result<Credentials> c = Get(Options(kEnvKeys));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIAENVIRONMENT1");
  EXPECT_EQ(c->secret_access_key, "env-secret");
  EXPECT_EQ(c->session_token, "env-token");
  EXPECT_EQ(c->source, "environment");
  EXPECT_FALSE(c->expiration);
}

TEST_F(CredentialsTest, EnvironmentNeedsBothKeys) {
  Result<Credentials> c = Get(Options({{"AWS_ACCESS_KEY_ID", "AKIAONLYTHEID"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kAccessDenied);
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("no AWS credentials found"), std::string::npos) << m;
  EXPECT_NE(m.find("set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"), std::string::npos) << m;
  EXPECT_NE(m.find("--no-sign-request"), std::string::npos) << m;
  EXPECT_NE(m.find("disabled by AWS_EC2_METADATA_DISABLED"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
}

TEST_F(CredentialsTest, ExplicitBeatsEnvironmentBeatsProfile) {
  Write(".aws/credentials",
        "[default]\naws_access_key_id=AKIAPROFILE0001\n"
        "aws_secret_access_key=profile-secret\n");
  CredentialsOptions o = Options(kEnvKeys);
  o.explicit_credentials = Credentials{"AKIAEXPLICIT0001", "explicit-secret", "", {}, ""};
  Result<Credentials> c = Get(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AKIAEXPLICIT0001");
  EXPECT_EQ(c->source, "explicit");

  o.explicit_credentials.reset();
  c = Get(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->source, "environment");

  c = Get(Options());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AKIAPROFILE0001");
  EXPECT_EQ(c->source, "profile default");
}

TEST_F(CredentialsTest, ProfileSelection) {
  Write(".aws/credentials",
        "# keys\n[default]\naws_access_key_id = AKIADEFAULT0001\naws_secret_access_key = d\n"
        "[work]\naws_access_key_id = AKIAWORK00000001 ; comment\naws_secret_access_key = w\n"
        "aws_session_token = work-token\n");
  Write(".aws/config",
        "[profile cfg]\naws_access_key_id = AKIACONFIG00001\n"
        "aws_secret_access_key = c\n[work]\naws_access_key_id = AKIAIGNORED\n");
  Result<Credentials> c = Get(Options({{"AWS_PROFILE", "work"}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIAWORK00000001");
  EXPECT_EQ(c->session_token, "work-token");
  EXPECT_EQ(c->source, "profile work");

  CredentialsOptions o = Options({{"AWS_PROFILE", "work"}});
  o.profile = "cfg";  // --profile beats AWS_PROFILE; [profile cfg] in the config file
  c = Get(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIACONFIG00001");
}

// --profile is the only source: keys in the environment neither win over it nor stand in for
// a profile that does not exist (they did, silently, before).
TEST_F(CredentialsTest, NamedProfileIgnoresEnvironmentKeys) {
  Write(".aws/credentials",
        "[p]\naws_access_key_id = AKIAPROFILEP001\naws_secret_access_key = s\n");
  CredentialsOptions o = Options(kEnvKeys);
  o.profile = "p";
  Result<Credentials> c = Get(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIAPROFILEP001");
  EXPECT_EQ(c->source, "profile p");

  o.profile = "nosuchprofile";
  c = Get(o);
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("\"nosuchprofile\" not found in " + home_ + "/.aws/credentials"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("--profile"), std::string::npos) << m;

  // Without --profile the environment still comes first, as in the AWS SDKs.
  o.profile.clear();
  c = Get(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->source, "environment");
}

TEST_F(CredentialsTest, CredentialsFileBeatsConfigFile) {
  Write(".aws/credentials",
        "[p]\naws_access_key_id = AKIAFROMCREDS01\naws_secret_access_key = a\n");
  Write(".aws/config",
        "[profile p]\naws_access_key_id = AKIAFROMCONFIG1\n"
        "aws_secret_access_key = b\n");
  CredentialsOptions o = Options();
  o.profile = "p";
  Result<Credentials> c = Get(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AKIAFROMCREDS01");
  EXPECT_EQ(c->secret_access_key, "a");
}

TEST_F(CredentialsTest, FilesFromEnvironmentVariables) {
  Write("creds", "[default]\naws_access_key_id = AKIAOTHERFILE01\naws_secret_access_key = o\n");
  Write("conf", "[profile x]\nregion = sa-east-1\n");
  Env env = {{"AWS_SHARED_CREDENTIALS_FILE", home_ + "/creds"},
             {"AWS_CONFIG_FILE", home_ + "/conf"}};
  Result<Credentials> c = Get(Options(env));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AKIAOTHERFILE01");
  env["AWS_PROFILE"] = "x";
  EXPECT_EQ(ResolveRegion("", Options(env), false), "sa-east-1");
}

TEST_F(CredentialsTest, NamedProfileMissingIsAnError) {
  Write(".aws/credentials",
        "[default]\naws_access_key_id = AKIADEFAULT0001\n"
        "aws_secret_access_key = d\n");
  Result<Credentials> c = Get(Options({{"AWS_PROFILE", "nope"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("\"nope\""), std::string::npos) << m;
  EXPECT_NE(m.find(home_ + "/.aws/credentials"), std::string::npos) << m;
  EXPECT_NE(m.find(home_ + "/.aws/config"), std::string::npos) << m;
}

TEST_F(CredentialsTest, DefaultProfileMissingFallsThrough) {
  Result<Credentials> c = Get(Options());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kAccessDenied);
  EXPECT_NE(c.status().message().find("profile \"default\""), std::string::npos);
}

TEST_F(CredentialsTest, HalfAProfileAndUnsupportedSourcesAreErrorsWithoutSecrets) {
  Write(".aws/credentials", "[half]\naws_secret_access_key = very-secret-value\n");
  Write(".aws/config", "[profile sso]\nsso_session = corp\n");
  CredentialsOptions o = Options();
  o.profile = "half";
  Result<Credentials> c = Get(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c.status().message().find("very-secret-value"), std::string::npos);
  o.profile = "sso";
  c = Get(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotSupported);
  EXPECT_NE(c.status().message().find("sso_session"), std::string::npos);
}

TEST(CredentialsDescribeTest, MasksTheKeyAndNeverShowsSecrets) {
  Credentials c{
      "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "tok", {}, "environment"};
  std::string d = c.Describe();
  EXPECT_EQ(d.rfind("environment AKIA****MPLE", 0), 0u) << d;
  EXPECT_EQ(d.find("wJalr"), std::string::npos);
  EXPECT_EQ(d.find("IOSFODNN7"), std::string::npos);
  c.access_key_id = "short";
  c.expiration = ParseIso8601("2026-11-24T12:00:00Z");
  EXPECT_EQ(c.Describe(), "environment **** (session), expires 2026-11-24T12:00:00Z");
}

TEST(Iso8601Test, ParsesUtcFractionsAndOffsets) {
  using std::chrono::system_clock;
  auto t = ParseIso8601("2026-11-24T12:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(system_clock::to_time_t(*t), 1795521600);
  EXPECT_EQ(ParseIso8601("2026-11-24T12:00:00.123Z"), t);
  EXPECT_EQ(ParseIso8601("2026-11-24T14:00:00+02:00"), t);
  EXPECT_FALSE(ParseIso8601("2026-11-24 12:00:00"));
  EXPECT_FALSE(ParseIso8601("2026-13-24T12:00:00Z"));
  EXPECT_FALSE(ParseIso8601("2026-11-24T12:00:00Zjunk"));
  EXPECT_FALSE(ParseIso8601(""));
  EXPECT_EQ(FormatIso8601(*t), "2026-11-24T12:00:00Z");
}

TEST_F(CredentialsTest, RegionOrder) {
  Write(".aws/config", "[default]\nregion = ca-central-1\n[profile p]\nregion = eu-north-1\n");
  Env env = {{"AWS_REGION", "us-west-1"}, {"AWS_DEFAULT_REGION", "us-west-2"}};
  EXPECT_EQ(ResolveRegion("ap-east-1", Options(env), false), "ap-east-1");
  EXPECT_EQ(ResolveRegion("", Options(env), false), "us-west-1");
  env.erase("AWS_REGION");
  EXPECT_EQ(ResolveRegion("", Options(env), false), "us-west-2");
  env.erase("AWS_DEFAULT_REGION");
  EXPECT_EQ(ResolveRegion("", Options(env), false), "ca-central-1");
  CredentialsOptions o = Options(env);
  o.profile = "p";
  EXPECT_EQ(ResolveRegion("", o, false), "eu-north-1");
  std::filesystem::remove(home_ + "/.aws/config");
  EXPECT_EQ(ResolveRegion("", Options(env), /*ask_imds=*/true), "us-east-1");  // IMDS disabled
}

// A provider whose answers the test scripts; counts calls.
class ScriptedProvider final : public CredentialsProvider {
 public:
  ScriptedProvider(std::atomic<int>* calls, std::function<Result<Credentials>()> answer)
      : calls_(calls), answer_(std::move(answer)) {}
  Result<Credentials> Get() override {
    ++*calls_;
    return answer_();
  }

 private:
  std::atomic<int>* calls_;
  std::function<Result<Credentials>()> answer_;
};

Credentials Creds(const std::string& id, std::optional<std::chrono::system_clock::time_point> exp) {
  return Credentials{id, "secret", "", exp, "scripted " + id};
}

TEST(CredentialsChainTest, RemembersTheSourceAndResolvesAgainWhenItFails) {
  std::atomic<int> first_calls{0}, second_calls{0};
  std::atomic<bool> first_works{false}, second_works{true};
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  providers.push_back(
      std::make_unique<ScriptedProvider>(&first_calls, [&]() -> Result<Credentials> {
        if (first_works) return Creds("FIRST", std::nullopt);
        return Status(Code::kNotFound, "first (unset)");
      }));
  providers.push_back(
      std::make_unique<ScriptedProvider>(&second_calls, [&]() -> Result<Credentials> {
        if (second_works) return Creds("SECOND", std::nullopt);
        return Status(Code::kNotFound, "second (unset)");
      }));
  auto chain = NewCredentialsChain(std::move(providers));
  ASSERT_EQ(chain->Get()->access_key_id, "SECOND");
  EXPECT_EQ(first_calls, 1);
  ASSERT_EQ(chain->Get()->access_key_id, "SECOND");
  EXPECT_EQ(first_calls, 1);  // remembered: the first source is not asked again
  EXPECT_EQ(second_calls, 2);

  second_works = false;
  first_works = true;
  ASSERT_EQ(chain->Get()->access_key_id, "FIRST");  // re-resolved from the top
  EXPECT_EQ(first_calls, 2);

  first_works = false;
  Result<Credentials> r = chain->Get();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("first (unset); second (unset)"), std::string::npos)
      << r.status().message();
}

TEST(CredentialsChainTest, AConfiguredSourceThatFailsStopsTheChain) {
  std::atomic<int> a{0}, b{0};
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  providers.push_back(std::make_unique<ScriptedProvider>(
      &a, [] { return Result<Credentials>(Status(Code::kAccessDenied, "sts said no")); }));
  providers.push_back(std::make_unique<ScriptedProvider>(
      &b, [] { return Result<Credentials>(Creds("B", std::nullopt)); }));
  Result<Credentials> r = NewCredentialsChain(std::move(providers))->Get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "sts said no");
  EXPECT_EQ(b, 0);
}

TEST(CachingProviderTest, RefreshesOnlyNearExpiryAndKeepsValidCredentialsOnFailure) {
  FakeClock clock;
  auto expiry = [&clock] { return clock.Now() + 1h; };
  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};
  auto cache = NewCachingCredentialsProvider(
      std::make_unique<ScriptedProvider>(&calls,
                                         [&]() -> Result<Credentials> {
                                           if (fail) return Status(Code::kNetwork, "down");
                                           return Creds("K" + std::to_string(calls), expiry());
                                         }),
      &clock);
  ASSERT_EQ(cache->Get()->access_key_id, "K1");
  clock.Advance(54min);
  ASSERT_EQ(cache->Get()->access_key_id, "K1");
  EXPECT_EQ(calls, 1);
  clock.Advance(2min);  // 4 minutes before expiry: inside kRefreshAhead
  ASSERT_EQ(cache->Get()->access_key_id, "K2");
  EXPECT_EQ(calls, 2);

  fail = true;
  clock.Advance(57min);  // K2 expires in 3 minutes: refresh fails, K2 still served
  ASSERT_EQ(cache->Get()->access_key_id, "K2");
  clock.Advance(4min);  // expired: the failure is reported
  Result<Credentials> r = cache->Get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNetwork);
}

TEST(CachingProviderTest, ConcurrentCallersShareOneRefresh) {
  FakeClock clock;
  std::atomic<int> calls{0};
  auto cache = NewCachingCredentialsProvider(
      std::make_unique<ScriptedProvider>(&calls,
                                         [&] {
                                           std::this_thread::sleep_for(50ms);
                                           return Result<Credentials>(Creds("K", clock.Now() + 1h));
                                         }),
      &clock);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { ok += cache->Get().ok() ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace s3m
