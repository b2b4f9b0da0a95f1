#include "cli/config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include "cli/bucket_name.h"
#include "cli/config_checks.h"
#include "cli/startup_checks.h"

namespace s3m {
namespace {

ParsedCommandLine Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "s3mount");
  return ParseCommandLine(static_cast<int>(args.size()), args.data());
}

TEST(ConfigTest, BucketUrlWithPrefixAndDefaults) {
  auto p = Parse({"s3://my-bucket/data/set/", "/mnt/x"});
  ASSERT_TRUE(p.run) << p.output;
  EXPECT_EQ(p.config.bucket, "my-bucket");
  EXPECT_EQ(p.config.prefix, "data/set/");
  EXPECT_EQ(p.config.mountpoint, "/mnt/x");
  EXPECT_EQ(p.config.file_mode, 0644u);
  EXPECT_EQ(p.config.dir_mode, 0755u);
  EXPECT_EQ(p.config.metadata_ttl, std::chrono::seconds(1));
  EXPECT_EQ(p.config.write_part_size, 8u << 20);
  EXPECT_TRUE(p.config.upload_checksums);
  EXPECT_FALSE(p.config.foreground);
  EXPECT_TRUE(p.config.drop_behind);
}

TEST(ConfigTest, OptionsTakeEffect) {
  auto p = Parse({"b12",         "/m",
                  "--prefix",    "p/",
                  "--read-only", "--allow-root",
                  "-f",          "--file-mode",
                  "600",         "--dir-mode",
                  "0700",        "--metadata-ttl",
                  "indefinite",  "--negative-metadata-ttl",
                  "minimal",     "--part-size",
                  "16777216",    "--upload-checksums",
                  "off",         "--uid",
                  "1000",        "--memory-target",
                  "256",         "--keep-read-pages"});
  ASSERT_TRUE(p.run) << p.output;
  const Config& c = p.config;
  EXPECT_EQ(c.prefix, "p/");
  EXPECT_TRUE(c.read_only && c.allow_root && c.foreground);
  EXPECT_EQ(c.file_mode, 0600u);
  EXPECT_EQ(c.dir_mode, 0700u);
  EXPECT_EQ(c.metadata_ttl, std::chrono::nanoseconds::max());
  EXPECT_EQ(c.negative_metadata_ttl, std::chrono::nanoseconds(0));
  EXPECT_EQ(c.read_part_size, 16u << 20);
  EXPECT_EQ(c.write_part_size, 16u << 20);
  EXPECT_FALSE(c.upload_checksums);
  EXPECT_EQ(c.uid, 1000u);
  EXPECT_EQ(c.memory_target_bytes, 256u << 20);
  EXPECT_FALSE(c.drop_behind);
}

TEST(ConfigTest, BadValuesAreOneLineErrorsWithExitCode2) {
  for (auto args : std::vector<std::vector<const char*>>{
           {"b12"},                                            // missing directory
           {"b12", "/m", "--no-such-option"},                  // unknown option
           {"b12", "/m", "--file-mode", "999"},                // not octal
           {"b12", "/m", "--metadata-ttl", "soon"},            // not a TTL
           {"b12", "/m", "--max-threads", "many"},             // not a number
           {"b12", "/m", "--write-part-size", "1024"},         // below S3's 5 MiB
           {"b12", "/m", "--prefix", "noslash"},               // prefix must end in '/'
           {"s3://b12/p/", "/m", "--prefix", "q/"},            // prefix twice
           {"b12", "/m", "--upload-checksums", "md5"},         // unknown algorithm
           {"b12", "/m", "--allow-other", "--allow-root"}}) {  // exclusive
    auto p = Parse(args);
    EXPECT_FALSE(p.run) << args.back();
    EXPECT_EQ(p.exit_code, 2) << args.back();
    ASSERT_FALSE(p.output.empty());
    EXPECT_EQ(p.output.find('\n'), p.output.size() - 1) << p.output;  // exactly one line
    EXPECT_EQ(p.output.rfind("s3mount: ", 0), 0u) << p.output;
  }
}

// Each case: the arguments after BUCKET DIRECTORY, and what the one-line error must name.
struct BadCase {
  std::vector<const char*> args;
  std::string names;
};

TEST(ConfigTest, EveryBadValueNamesItsOptionAndNeverRuns) {
  const std::vector<BadCase> cases = {
      // Unsigned options given a sign: CLI11 would wrap -5 into a huge number.
      {{"--memory-target", "-5"}, "--memory-target: must not be negative"},
      {{"--uid", "-1"}, "--uid: must not be negative"},
      {{"--gid", "-2"}, "--gid: must not be negative"},
      {{"--part-size", "-8388608"}, "--part-size: must not be negative"},
      {{"--read-part-size", "-1"}, "--read-part-size: must not be negative"},
      {{"--write-part-size", "-1"}, "--write-part-size: must not be negative"},
      {{"--memory-target", "0"}, "--memory-target must be between 64 and"},
      {{"--memory-target", "99999999999999"}, "--memory-target must be between 64 and"},
      {{"--memory-target", "64", "--read-part-size", "67108864"},
       "--read-part-size of 64 MiB does not fit in the 48 MiB of data buffers that "
       "--memory-target 64 leaves"},
      {{"--memory-target", "256", "--part-size", "268435456"},
       "--read-part-size of 256 MiB does not fit in the 192 MiB"},
      {{"--uid", "4294967295"}, "--uid and --gid must be below 4294967295"},
      {{"--max-threads", "-3"}, "--max-threads must be at least 1"},
      {{"--maximum-throughput-gbps", "inf"}, "--maximum-throughput-gbps must be a positive"},
      {{"--maximum-throughput-gbps", "nan"}, "--maximum-throughput-gbps must be a positive"},
      {{"--maximum-throughput-gbps", "-1"}, "--maximum-throughput-gbps must be a positive"},
      {{"--metadata-ttl", "nan"}, "--metadata-ttl 'nan' must be seconds"},
      {{"--negative-metadata-ttl", "-1"}, "--negative-metadata-ttl '-1' must be seconds"},
      {{"--file-mode", "-1"}, "--file-mode '-1' is not an octal"},
      {{"--dir-mode", "+755"}, "--dir-mode '+755' is not an octal"},
      // Options that contradict each other.
      {{"--read-only", "--allow-delete"}, "--read-only and --allow-delete contradict"},
      {{"--allow-overwrite", "--read-only"}, "--read-only and --allow-overwrite contradict"},
      {{"--part-size", "8388608", "--write-part-size", "8388608"},
       "--part-size sets both part sizes: drop it or --write-part-size"},
      {{"--no-sign-request", "--profile", "p"}, "--no-sign-request sends no credentials"},
      {{"--allow-root", "--allow-other"}, "--allow-other and --allow-root exclude"},
      // Endpoints and regions.
      {{"--endpoint-url", "localhost:9000"}, "--endpoint-url 'localhost:9000' is not a URL"},
      {{"--endpoint-url", "http://h:0"}, "--endpoint-url 'http://h:0' is not a URL"},
      {{"--endpoint-url", "http://h:99999"}, "is not a URL"},
      {{"--endpoint-url", "http://h:80/path"}, "is not a URL"},
      {{"--endpoint-url", "http://user@h"}, "is not a URL"},
      {{"--endpoint-url", "http://"}, "is not a URL"},
      {{"--region", "us east 1"}, "--region 'us east 1' is not a region name"},
  };
  for (const BadCase& bad : cases) {
    std::vector<const char*> args = {"b12", "/m"};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    auto p = Parse(args);
    EXPECT_FALSE(p.run) << bad.names;
    EXPECT_EQ(p.exit_code, 2) << bad.names;
    EXPECT_EQ(p.output.find('\n'), p.output.size() - 1) << p.output;
    EXPECT_NE(p.output.find(bad.names), std::string::npos) << p.output;
  }
}

TEST(ConfigTest, GoodNumbersAndEndpointsPass) {
  auto p = Parse({"b12", "/m", "--memory-target", "64", "--uid", "0", "--endpoint-url",
                  "http://[::1]:9000/", "--region", "eu-west-3", "--maximum-throughput-gbps", "1e6",
                  "--metadata-ttl", "0.5"});
  ASSERT_TRUE(p.run) << p.output;
  EXPECT_EQ(p.config.memory_target_bytes, 64u << 20);
  EXPECT_EQ(p.config.uid, 0u);
  EXPECT_EQ(p.config.MaxConnections(), 256);  // clamped, not an overflowed int
  auto q = Parse({"b12", "/m", "--read-only", "--endpoint-url", "https://s3.example.com:8443"});
  ASSERT_TRUE(q.run) << q.output;
  EXPECT_EQ(q.config.memory_target_bytes, 0u);  // not given: the default applies
}

TEST(BucketNameTest, NamesFollowS3Rules) {
  for (const std::string& good :
       std::vector<std::string>{"b12", "my.bucket-1", "a-b.c-d", "0bucket9",
                                "amzn-mybase--usw2-az1--x-s3",  // directory bucket
                                "my-ap-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias",  // AP alias
                                std::string(63, 'a')}) {
    EXPECT_TRUE(CheckBucketName(good).ok()) << good << ": " << CheckBucketName(good).message();
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"Bad_Bucket..Name", "not 'B'"},
      {"bad_bucket", "not '_'"},
      {"ab", "3 to 63 characters"},
      {std::string(64, 'a'), "3 to 63 characters"},
      {"-bucket", "begin and end with a letter or digit"},
      {"bucket.", "begin and end with a letter or digit"},
      {"my..bucket", "two periods in a row"},
      {"192.168.5.4", "IP address"},
      {"xn--bucket", "'xn--' is reserved"},
      {"s3://b/p", "not ':'"},
      {"~/mnt", "not '~'"},
  };
  for (const auto& [name, why] : bad) {
    Status s = CheckBucketName(name);
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_NE(s.message().find("is not a valid bucket name: "), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  }
}

TEST(BucketNameTest, AccessPointArns) {
  for (const char* good : {
           "arn:aws:s3:us-east-1:123456789012:accesspoint/my-ap",
           "arn:aws:s3:us-east-1:123456789012:accesspoint:my-ap",
           "arn:aws-cn:s3:cn-north-1:123456789012:accesspoint/ap1",
           "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap",  // multi-region
           "arn:aws:s3-object-lambda:us-west-2:123456789012:accesspoint/olap",
           "arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01ac5d28a6a232904/"
           "accesspoint/outpost-ap",
       }) {
    EXPECT_TRUE(CheckBucketName(good).ok()) << good << ": " << CheckBucketName(good).message();
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"arn:aws:s3:us-east-1:123456789012", "fewer than 6"},
      {"arn:gcp:s3:us-east-1:123456789012:accesspoint/ap", "partition 'gcp'"},
      {"arn:aws:ec2:us-east-1:123456789012:accesspoint/ap", "service 'ec2'"},
      {"arn:aws:s3-object-lambda::123456789012:accesspoint/ap", "region ''"},
      {"arn:aws:s3:us-east-1:12345:accesspoint/ap", "account '12345'"},
      {"arn:aws:s3:us-east-1:123456789012:bucket/b", "not accesspoint/NAME"},
      {"arn:aws:s3:us-east-1:123456789012:accesspoint/My_AP", "access point name 'My_AP'"},
      {"arn:aws:s3-outposts:us-west-2:123456789012:accesspoint/ap", "outpost/OUTPOST-ID"},
  };
  for (const auto& [arn, why] : bad) {
    Status s = CheckBucketName(arn);
    ASSERT_FALSE(s.ok()) << arn;
    EXPECT_NE(s.message().find("is not a valid access point ARN: "), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  }
}

TEST(ConfigTest, BucketNameIsCheckedAfterTheUrlIsSplit) {
  auto p = Parse({"s3://Bad_Bucket..Name/p/", "/m"});
  EXPECT_FALSE(p.run);
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.output.find("'Bad_Bucket..Name' is not a valid bucket name"), std::string::npos)
      << p.output;
  auto arn = Parse({"arn:aws:s3:us-east-1:123456789012:accesspoint/my-ap", "/m"});
  ASSERT_TRUE(arn.run) << arn.output;
  EXPECT_EQ(arn.config.bucket, "arn:aws:s3:us-east-1:123456789012:accesspoint/my-ap");
}

TEST(StartupChecksTest, VariablesAreCheckedAndNamed) {
  EXPECT_TRUE(CheckEnvironment(MapEnv({{"AWS_MAX_ATTEMPTS", "3"}})).ok());
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> bad = {
      {{{"AWS_MAX_ATTEMPTS", "0"}}, "AWS_MAX_ATTEMPTS '0' must be a whole number"},
      {{{"AWS_MAX_ATTEMPTS", "3x"}}, "AWS_MAX_ATTEMPTS '3x'"},
      {{{"AWS_ENDPOINT_URL", "s3.example.com"}}, "AWS_ENDPOINT_URL 's3.example.com' is not a URL"},
      {{{"AWS_ENDPOINT_URL_S3", "http://h:0"}}, "AWS_ENDPOINT_URL_S3 'http://h:0'"},
      {{{"AWS_DEFAULT_REGION", "eu/west"}}, "AWS_DEFAULT_REGION 'eu/west' is not a region"},
      {{{"AWS_CONFIG_FILE", "/nonexistent/config"}},
       "AWS_CONFIG_FILE /nonexistent/config: No such"},
      {{{"HOME", "/nonexistent"}, {"AWS_SHARED_CREDENTIALS_FILE", "~/creds"}},
       "AWS_SHARED_CREDENTIALS_FILE /nonexistent/creds: No such"},
  };
  for (const auto& [env, says] : bad) {
    Status s = CheckEnvironment(MapEnv(env));
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << says;
    EXPECT_NE(s.message().find(says), std::string::npos) << s.message();
  }
}

TEST(StartupChecksTest, FilesAndDirectoriesMustBeUsable) {
  std::string dir = (std::filesystem::temp_directory_path() / "startup-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::ofstream(dir + "/plain") << "no certificate here\n";
  std::ofstream(dir + "/ca.pem")
      << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  Config c;
  c.ca_bundle = dir + "/ca.pem";
  EXPECT_TRUE(CheckCaBundle(c, MapEnv({})).ok());
  c.ca_bundle = dir + "/plain";
  EXPECT_NE(CheckCaBundle(c, MapEnv({})).message().find("holds no PEM certificate"),
            std::string::npos);
  c.ca_bundle.clear();
  EXPECT_NE(CheckCaBundle(c, MapEnv({{"AWS_CA_BUNDLE", dir}})).message().find("is not a file"),
            std::string::npos);
  EXPECT_TRUE(CheckLogDirectory(dir + "/logs/nested").ok());  // created
  EXPECT_TRUE(std::filesystem::is_directory(dir + "/logs/nested"));
  EXPECT_TRUE(std::filesystem::is_empty(dir + "/logs/nested"));  // the probe file is gone
  EXPECT_NE(CheckLogDirectory(dir + "/plain/logs").message().find("--log-directory"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(StartupChecksTest, RelativePathsBecomeAbsolute) {
  Config c;
  c.mountpoint = "mnt/";
  c.log_directory = "./logs";
  c.ca_bundle = "/etc/ca.pem";
  ASSERT_TRUE(MakePathsAbsolute(c).ok());
  std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(c.mountpoint, cwd + "/mnt/");
  EXPECT_EQ(c.log_directory, cwd + "/logs");
  EXPECT_EQ(c.ca_bundle, "/etc/ca.pem");
}

TEST(ConfigTest, HelpAndVersion) {
  auto h = Parse({"--help"});
  EXPECT_FALSE(h.run);
  EXPECT_EQ(h.exit_code, 0);
  for (const char* opt : {"--allow-delete", "--metadata-ttl", "--memory-target", "--endpoint-url",
                          "--upload-checksums", "--foreground"}) {
    EXPECT_NE(h.output.find(opt), std::string::npos) << opt;
  }
  auto v = Parse({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.output.rfind("s3mount ", 0), 0u);
}

TEST(ConfigTest, MetricsOptions) {
  auto off = Parse({"b12", "/m"});
  ASSERT_TRUE(off.run) << off.output;
  EXPECT_EQ(off.config.prometheus_port, 0);  // off by default
  EXPECT_EQ(off.config.prometheus_address, "127.0.0.1");
  EXPECT_FALSE(off.config.log_metrics);
  auto on = Parse(
      {"b12", "/m", "--prometheus-port", "9464", "--prometheus-address", "::", "--log-metrics"});
  ASSERT_TRUE(on.run) << on.output;
  EXPECT_EQ(on.config.prometheus_port, 9464);
  EXPECT_EQ(on.config.prometheus_address, "::");
  EXPECT_TRUE(on.config.log_metrics);
  for (const char* bad : {"0", "65536", "x"}) {
    auto p = Parse({"b12", "/m", "--prometheus-port", bad});
    EXPECT_FALSE(p.run) << bad;
    EXPECT_EQ(p.exit_code, 2);
    EXPECT_NE(p.output.find("--prometheus-port"), std::string::npos) << p.output;
  }
  auto lone = Parse({"b12", "/m", "--prometheus-address", "0.0.0.0"});
  EXPECT_FALSE(lone.run);
  EXPECT_EQ(lone.output, "s3mount: --prometheus-address needs --prometheus-port\n");
}

TEST(ConfigTest, ConnectionsFollowTargetThroughput) {
  Config c;
  c.maximum_throughput_gbps = 10;
  EXPECT_EQ(c.MaxConnections(), 24);  // 1192 MiB/s at 50 MiB/s a connection
  c.maximum_throughput_gbps = 0.1;
  EXPECT_EQ(c.MaxConnections(), 16);  // the floor
  c.maximum_throughput_gbps = 400;
  EXPECT_EQ(c.MaxConnections(), 256);  // the ceiling
}

class CgroupLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("s3mount-cgroup-test-" + std::to_string(getpid()));
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Write(const std::string& rel, const std::string& value) {
    auto path = root_ / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << value << "\n";
  }
  uint64_t Limit(const std::string& proc_cgroup) {
    return CgroupMemoryLimit(root_.string(), proc_cgroup);
  }
  std::filesystem::path root_;
};

TEST_F(CgroupLimitTest, V2TakesTheSmallestLimitOfTheGroupAndItsAncestors) {
  Write("memory.max", "max");
  Write("slurm/memory.max", "8589934592");
  Write("slurm/job_7/memory.max", "max");
  Write("slurm/job_7/step_0/memory.max", "17179869184");
  EXPECT_EQ(Limit("0::/slurm/job_7/step_0\n"), 8589934592u);
  EXPECT_EQ(Limit("0::/\n"), 0u);  // "max" everywhere that applies
}

TEST_F(CgroupLimitTest, V1ReadsTheMemoryControllersHierarchy) {
  Write("memory/memory.limit_in_bytes", "9223372036854771712");  // v1's "no limit"
  Write("memory/slurm/uid_0/job_9/memory.limit_in_bytes", "2147483648");
  const std::string text =
      "9:name=systemd:/\n4:memory:/slurm/uid_0/job_9\n3:cpuset,cpu:/slurm/uid_0/job_9\n";
  EXPECT_EQ(Limit(text), 2147483648u);
}

TEST_F(CgroupLimitTest, NoControllerOrNoFilesMeansNoLimit) {
  EXPECT_EQ(Limit("0::/user.slice\n"), 0u);
  EXPECT_EQ(Limit("3:cpu:/x\n"), 0u);
  EXPECT_EQ(Limit(""), 0u);
  EXPECT_EQ(Limit("0::relative\n4:memory:\n"), 0u);  // malformed paths: no crash, no limit
}

TEST(ConfigTest, DefaultMemoryTargetIsAtMost512MiB) {
  uint64_t t = DefaultMemoryTarget();
  EXPECT_GT(t, 0u);
  EXPECT_LE(t, 512u << 20);
}

TEST(ConfigTest, MountpointCompatibleOptions) {
  auto p = Parse({"--bind",
                  "eth0",
                  "bkt",
                  "--bind",
                  "eth1",
                  "/dev/fd/7",
                  "--sse",
                  "aws:kms",
                  "--sse-kms-key-id",
                  "arn:aws:kms:us-east-1:111122223333:key/abc",
                  "--expected-bucket-owner",
                  "111122223333",
                  "--user-agent-prefix",
                  "team a/1",
                  "--infer-content-type",
                  "--dual-stack",
                  "--bucket-type",
                  "directory",
                  "--incremental-upload",
                  "--debug-crt",
                  "--otlp-endpoint",
                  "https://collector:4318/base"});
  ASSERT_TRUE(p.run) << p.output;
  const Config& c = p.config;
  EXPECT_EQ(c.bucket, "bkt");  // one interface per --bind: the positionals stay positional
  EXPECT_EQ(c.mountpoint, "/dev/fd/7");
  EXPECT_TRUE(c.MountsFd());
  EXPECT_EQ(c.bind, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(c.sse, "aws:kms");
  EXPECT_EQ(c.sse_kms_key_id, "arn:aws:kms:us-east-1:111122223333:key/abc");
  EXPECT_EQ(c.expected_bucket_owner, "111122223333");
  EXPECT_EQ(c.user_agent_prefix, "team a/1");
  EXPECT_TRUE(c.infer_content_type && c.dual_stack && c.incremental_upload && c.debug_crt);
  EXPECT_FALSE(c.transfer_acceleration || c.no_log);
  EXPECT_EQ(c.bucket_type, "directory");
  EXPECT_EQ(c.otlp_endpoint, "https://collector:4318/base");
  EXPECT_EQ(c.otlp_export_interval_seconds, 60);  // Mountpoint's default
}

TEST(ConfigTest, FuseFdPaths) {
  EXPECT_FALSE(Parse({"bkt", "/mnt/fd"}).config.MountsFd());
  for (const char* path : {"/dev/fd/", "/dev/fd/x", "/dev/fd/-1", "/dev/fdx/3"}) {
    auto p = Parse({"bkt", path});
    EXPECT_FALSE(p.config.MountsFd()) << path;
  }
}

TEST(ConfigTest, HelpListsEveryMountpointOption) {
  auto p = Parse({"--help"});
  ASSERT_FALSE(p.run);
  EXPECT_EQ(p.exit_code, 0);
  // Mountpoint 1.24's options (mountpoint-s3/src/cli.rs).
  for (const char* option : {"--cache",
                             "--max-cache-size",
                             "--cache-xz",
                             "--prefix",
                             "--region",
                             "--endpoint-url",
                             "--force-path-style",
                             "--transfer-acceleration",
                             "--dual-stack",
                             "--requester-pays",
                             "--bucket-type",
                             "--no-sign-request",
                             "--profile",
                             "--read-only",
                             "--storage-class",
                             "--allow-delete",
                             "--allow-overwrite",
                             "--incremental-upload",
                             "--auto-unmount",
                             "--allow-root",
                             "--allow-other",
                             "--maximum-throughput-gbps",
                             "--max-threads",
                             "--memory-target",
                             "--part-size",
                             "--read-part-size",
                             "--write-part-size",
                             "--ca-bundle",
                             "--uid",
                             "--gid",
                             "--dir-mode",
                             "--file-mode",
                             "--foreground",
                             "--expected-bucket-owner",
                             "--log-directory",
                             "--log-metrics",
                             "--otlp-endpoint",
                             "--otlp-export-interval",
                             "--debug",
                             "--debug-crt",
                             "--no-log",
                             "--metadata-ttl",
                             "--negative-metadata-ttl",
                             "--user-agent-prefix",
                             "--sse",
                             "--sse-kms-key-id",
                             "--upload-checksums",
                             "--infer-content-type",
                             "--bind"}) {
    EXPECT_NE(p.output.find(std::string(option) + " "), std::string::npos) << option;
  }
}

}  // namespace
}  // namespace s3m

namespace s3m {
namespace {

TEST(ConfigTest, CacheOptionsAndTheirTtlDefault) {
  auto plain = Parse({"b12", "/m"});
  ASSERT_TRUE(plain.run);
  EXPECT_TRUE(plain.config.cache_dir.empty());
  EXPECT_EQ(plain.config.metadata_ttl, std::chrono::seconds(1));

  // As Mountpoint: with --cache, names are kept 60 s unless --metadata-ttl says otherwise.
  auto cached = Parse({"b12", "/m", "--cache", "/var/cache/s3", "--max-cache-size", "2048"});
  ASSERT_TRUE(cached.run) << cached.output;
  EXPECT_EQ(cached.config.cache_dir, "/var/cache/s3");
  EXPECT_EQ(cached.config.max_cache_bytes, uint64_t{2048} << 20);
  EXPECT_EQ(cached.config.metadata_ttl, std::chrono::seconds(60));
  auto told = Parse({"b12", "/m", "--cache", "/c", "--metadata-ttl", "5"});
  ASSERT_TRUE(told.run);
  EXPECT_EQ(told.config.metadata_ttl, std::chrono::seconds(5));
  EXPECT_EQ(told.config.max_cache_bytes, 0u);

  auto keep = Parse({"b12", "/m", "--keep-pages-up-to", "64"});
  ASSERT_TRUE(keep.run);
  EXPECT_EQ(keep.config.keep_pages_bytes, uint64_t{64} << 20);
  EXPECT_TRUE(keep.config.drop_behind);
}

TEST(ConfigTest, CacheXzTakesABucketOfItsOwn) {
  auto xz = Parse({"data-bucket", "/m", "--cache-xz", "cache-bucket"});
  ASSERT_TRUE(xz.run) << xz.output;
  EXPECT_EQ(xz.config.cache_xz_bucket, "cache-bucket");
  EXPECT_EQ(xz.config.metadata_ttl, std::chrono::seconds(60));  // as Mountpoint
  auto uri = Parse({"s3://data-bucket/p/", "/m", "--cache-xz", "s3://cache-bucket/"});
  ASSERT_TRUE(uri.run) << uri.output;
  EXPECT_EQ(uri.config.cache_xz_bucket, "cache-bucket");
  auto both = Parse(
      {"data-bucket", "/m", "--cache", "/c", "--cache-xz", "cache-bucket", "--metadata-ttl", "3"});
  ASSERT_TRUE(both.run) << both.output;
  EXPECT_EQ(both.config.metadata_ttl, std::chrono::seconds(3));

  struct Bad {
    std::vector<const char*> args;
    std::string says;
  };
  for (const Bad& b : std::vector<Bad>{
           {{"data-bucket", "/m", "--cache-xz", "Cache_Bucket"},
            "'Cache_Bucket' is not a valid bucket name"},
           {{"data-bucket", "/m", "--cache-xz", "s3://cache-bucket/some/prefix/"},
            "--cache-xz takes a bucket without a prefix"},
           {{"data-bucket", "/m", "--cache-xz", "data-bucket"},
            "--cache-xz data-bucket is the mounted bucket"},
           {{"s3://data-bucket/", "/m", "--cache-xz", "s3://data-bucket"},
            "--cache-xz data-bucket is the mounted bucket"},
           {{"data-bucket", "/m", "--cache-xz", ""}, "--cache-xz needs a bucket name"},
       }) {
    auto p = Parse(b.args);
    EXPECT_FALSE(p.run) << b.says;
    EXPECT_EQ(p.exit_code, 2);
    EXPECT_NE(p.output.find(b.says), std::string::npos) << p.output;
    EXPECT_EQ(p.output.find('\n'), p.output.size() - 1) << p.output;  // one line
  }
  auto named = Parse({"data-bucket", "/m", "--cache-xz", "ab"});
  EXPECT_NE(named.output.find("check --cache-xz for a typo"), std::string::npos) << named.output;
}

}  // namespace
}  // namespace s3m
