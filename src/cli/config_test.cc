#include "cli/config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

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
                  "--read-only", "--allow-delete",
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
  EXPECT_TRUE(c.read_only && c.allow_delete && c.foreground);
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

}  // namespace
}  // namespace s3m
