// Tests of the network credential sources (IMDSv2, container endpoint, STS web identity)
// and of FetchBlocking, against tests/fixtures/fake_metadata_server.py on 127.0.0.1.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/http_client.h"
#include "s3/credential_providers.h"
#include "s3/credentials.h"

extern char** environ;

namespace s3m {
namespace {

using namespace std::chrono_literals;
using Env = std::map<std::string, std::string>;

// A local port with nothing listening on it.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class RemoteCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* source = std::getenv("S3MOUNT_SOURCE_DIR");
    ASSERT_NE(source, nullptr) << "run through ctest, which sets S3MOUNT_SOURCE_DIR";
    std::string script = std::string(source) + "/tests/fixtures/fake_metadata_server.py";
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::string fake_expiration =
        "FAKE_MD_EXPIRATION=" +
        std::to_string(std::chrono::system_clock::to_time_t(clock_.Now() + 1h));
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
    envp.push_back(fake_expiration.data());
    envp.push_back(nullptr);
    char python[] = "python3";
    char* argv[] = {python, script.data(), nullptr};
    int rc = posix_spawnp(&pid_, "python3", &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    ASSERT_EQ(rc, 0);
    FILE* f = fdopen(out[0], "r");
    char line[32] = {};
    ASSERT_NE(fgets(line, sizeof(line), f), nullptr);
    fclose(f);
    base_ = "http://127.0.0.1:" + std::to_string(std::atoi(line));
    token_file_ = (std::filesystem::temp_directory_path() /
                   ("s3m-token-" + std::to_string(getpid()) + ".txt"))
                      .string();
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove(token_file_);
  }

  CredentialsOptions Options(Env env) {
    env.emplace("HOME", "/nonexistent-home");
    CredentialsOptions o;
    o.getenv = MapEnv(std::move(env));
    o.clock = &clock_;
    return o;
  }

  // Requests the fake server served, by path.
  std::map<std::string, int> Counts() {
    HttpResponse r = FetchBlocking(SimpleHttpRequest{"GET", base_ + "/_counts", {}, "", 2000ms});
    EXPECT_TRUE(r.transport.ok()) << r.transport.ToString();
    return nlohmann::json::parse(r.body).get<std::map<std::string, int>>();
  }

  nlohmann::json LastSts() {
    HttpResponse r = FetchBlocking(SimpleHttpRequest{"GET", base_ + "/_last_sts", {}, "", 2000ms});
    return nlohmann::json::parse(r.body);
  }

  void WriteToken(const std::string& token) { std::ofstream(token_file_) << token << "\n"; }

  static constexpr char kRolePath[] = "/latest/meta-data/iam/security-credentials/test-role";
  FakeClock clock_;  // Expiration answers are clock_.Now() + 1 hour at start-up
  pid_t pid_ = -1;
  std::string base_;
  std::string token_file_;
};

TEST_F(RemoteCredentialsTest, FetchBlockingReturnsStatusHeadersAndBody) {
  HttpResponse r =
      FetchBlocking(SimpleHttpRequest{"PUT",
                                      base_ + "/latest/api/token",
                                      {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}},
                                      "",
                                      2000ms});
  ASSERT_TRUE(r.transport.ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "token-1");
  EXPECT_EQ(r.Header("content-type"), "text/plain");
  EXPECT_EQ(r.Header("content-length"), "7");

  r = FetchBlocking(SimpleHttpRequest{"GET", base_ + kRolePath, {}, "", 2000ms});
  ASSERT_TRUE(r.transport.ok());
  EXPECT_EQ(r.status, 401);  // IMDSv2 refuses requests without a token

  r = FetchBlocking(SimpleHttpRequest{
      "GET", "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/", {}, "", 2000ms});
  EXPECT_EQ(r.transport.code(), Code::kNetwork);
}

TEST_F(RemoteCredentialsTest, ImdsCredentialsAreCachedAndRefreshedBeforeExpiry) {
  auto provider =
      NewImdsCredentialsProvider(Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", base_}}));
  Result<Credentials> c = provider->Get();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAIMDS00000001");
  EXPECT_EQ(c->session_token, "fake-session-token-1");
  EXPECT_EQ(c->source, "imds");
  ASSERT_TRUE(c->expiration);
  EXPECT_EQ(*c->expiration, clock_.Now() + 1h);
  auto counts = Counts();
  EXPECT_EQ(counts["/latest/api/token"], 1);
  EXPECT_EQ(counts["/latest/meta-data/iam/security-credentials/"], 1);
  EXPECT_EQ(counts[kRolePath], 1);

  clock_.Advance(50min);  // 10 minutes left: served from the cache
  ASSERT_EQ(provider->Get()->access_key_id, "ASIAIMDS00000001");
  EXPECT_EQ(Counts()[kRolePath], 1);

  clock_.Advance(6min);  // 4 minutes left: inside kRefreshAhead
  ASSERT_EQ(provider->Get()->access_key_id, "ASIAIMDS00000002");
  counts = Counts();
  EXPECT_EQ(counts[kRolePath], 2);
  EXPECT_EQ(counts["/latest/api/token"], 2);
}

TEST_F(RemoteCredentialsTest, ConcurrentImdsCallersShareOneFetch) {
  auto provider =
      NewImdsCredentialsProvider(Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", base_}}));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) threads.emplace_back([&] { ok += provider->Get().ok() ? 1 : 0; });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 6);
  EXPECT_EQ(Counts()[kRolePath], 1);
}

TEST_F(RemoteCredentialsTest, RegionFromImdsOnlyWhenAsked) {
  CredentialsOptions o = Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", base_ + "/"}});
  EXPECT_EQ(ResolveRegion("", o, /*ask_imds=*/false), "us-east-1");
  EXPECT_EQ(Counts().count("/latest/meta-data/placement/region"), 0u);
  EXPECT_EQ(ResolveRegion("", o, /*ask_imds=*/true), "eu-west-3");
  EXPECT_EQ(Counts()["/latest/meta-data/placement/region"], 1);
}

TEST_F(RemoteCredentialsTest, ImdsDisabledMakesNoRequest) {
  auto chain = NewDefaultCredentialsChain(Options(
      {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", base_}, {"AWS_EC2_METADATA_DISABLED", "TRUE"}}));
  EXPECT_FALSE(chain->Get().ok());
  EXPECT_TRUE(Counts().empty());
}

TEST_F(RemoteCredentialsTest, NonEc2MachineFailsFastWithAClearMessage) {
  std::string closed = "http://127.0.0.1:" + std::to_string(ClosedPort());
  auto chain = NewDefaultCredentialsChain(Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", closed}}));
  auto start = std::chrono::steady_clock::now();
  Result<Credentials> c = chain->Get();
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kAccessDenied);
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("no AWS credentials found"), std::string::npos) << m;
  EXPECT_NE(m.find("EC2 instance metadata (" + closed + ")"), std::string::npos) << m;
  EXPECT_LT(elapsed, 2s);
}

TEST_F(RemoteCredentialsTest, ContainerCredentialsWithAuthorization) {
  Env env = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", base_ + "/container/creds"},
             {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth-token"}};
  Result<Credentials> c = NewContainerCredentialsProvider(Options(env))->Get();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIACTNR00000001");
  EXPECT_EQ(c->source, "container");
  EXPECT_EQ(c->expiration, clock_.Now() + 1h);

  env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong";
  c = NewContainerCredentialsProvider(Options(env))->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kAccessDenied);
  EXPECT_EQ(c.status().message().find("wrong"), std::string::npos);

  WriteToken("container-auth-token");  // the file takes precedence over the variable
  env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = token_file_;
  c = NewContainerCredentialsProvider(Options(env))->Get();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Counts()["/container/creds"], 3);
}

TEST_F(RemoteCredentialsTest, ContainerFullUriMustBeLocalOrHttps) {
  Result<Credentials> c =
      NewContainerCredentialsProvider(
          Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds"}}))
          ->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  c = NewContainerCredentialsProvider(Options({}))->Get();
  EXPECT_EQ(c.status().code(), Code::kNotFound);
}

TEST_F(RemoteCredentialsTest, WebIdentityFromEnvironment) {
  WriteToken("web-identity-token");
  Env env = {{"AWS_WEB_IDENTITY_TOKEN_FILE", token_file_},
             {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r"},
             {"AWS_ROLE_SESSION_NAME", "my session"},
             {"AWS_ENDPOINT_URL_STS", base_}};
  auto provider = NewWebIdentityCredentialsProvider(Options(env));
  Result<Credentials> c = provider->Get();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIASTS00000001");
  EXPECT_EQ(c->secret_access_key, "sts-secret-1");
  EXPECT_EQ(c->session_token, "sts-session-1");
  EXPECT_EQ(c->expiration, clock_.Now() + 1h);
  nlohmann::json sts = LastSts();
  EXPECT_EQ(sts["RoleArn"], "arn:aws:iam::123456789012:role/r");
  EXPECT_EQ(sts["RoleSessionName"], "my session");
  EXPECT_EQ(sts["Version"], "2011-06-15");

  ASSERT_TRUE(provider->Get().ok());
  EXPECT_EQ(Counts()["/"], 1);  // cached
  clock_.Advance(57min);
  ASSERT_EQ(provider->Get()->access_key_id, "ASIASTS00000002");
}

TEST_F(RemoteCredentialsTest, WebIdentityFromProfileAndStsErrors) {
  std::string config = token_file_ + ".config";
  std::ofstream(config) << "[profile ci]\nrole_arn = arn:aws:iam::1:role/ci\n"
                        << "web_identity_token_file = " << token_file_ << "\n";
  WriteToken("not-the-right-token");
  Env env = {{"AWS_CONFIG_FILE", config},
             {"AWS_PROFILE", "ci"},
             {"AWS_ENDPOINT_URL", base_},
             {"AWS_EC2_METADATA_DISABLED", "true"}};
  Result<Credentials> c = NewDefaultCredentialsChain(Options(env))->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kAccessDenied);
  EXPECT_NE(c.status().message().find("InvalidIdentityToken"), std::string::npos);
  EXPECT_NE(c.status().message().find("profile ci"), std::string::npos);
  EXPECT_EQ(c.status().message().find("not-the-right-token"), std::string::npos);

  WriteToken("web-identity-token");
  c = NewDefaultCredentialsChain(Options(env))->Get();
  std::filesystem::remove(config);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->source, "web identity");
  EXPECT_EQ(LastSts()["RoleArn"], "arn:aws:iam::1:role/ci");
}

TEST_F(RemoteCredentialsTest, DefaultChainPrefersContainerToImdsAndRemembersIt) {
  Env env = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", base_ + "/container/creds"},
             {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth-token"},
             {"AWS_EC2_METADATA_SERVICE_ENDPOINT", base_}};
  auto chain = NewDefaultCredentialsChain(Options(env));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(chain->Get()->source, "container");
  auto counts = Counts();
  EXPECT_EQ(counts["/container/creds"], 1);
  EXPECT_EQ(counts.count("/latest/api/token"), 0u);
}

}  // namespace
}  // namespace s3m
