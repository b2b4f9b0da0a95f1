#include "cli/config.h"

#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "cli/compat_checks.h"
#include "cli/config_checks.h"

namespace s3m {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kDefaultMemoryTarget = 512 * kMiB;
// A single S3 connection streams roughly 50-100 MiB/s; plan on the low end so the
// target throughput is reached, with a floor that keeps small-request workloads busy.
constexpr double kMiBpsPerConnection = 50.0;
constexpr int kMinConnections = 16;
constexpr int kMaxConnections = 256;

std::string FirstLine(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

}  // namespace

int Config::MaxConnections() const {
  double mibps = maximum_throughput_gbps * 1e9 / 8 / kMiB;
  // Clamped as a double: a huge target would overflow the int.
  double n = std::clamp(std::ceil(mibps / kMiBpsPerConnection), double{kMinConnections},
                        double{kMaxConnections});
  return static_cast<int>(n);
}

bool Config::MountsFd() const {
  return FuseFdFromPath(mountpoint) >= 0;
}

Result<std::chrono::nanoseconds> ParseTtl(const std::string& value, const std::string& option) {
  if (value == "indefinite") return std::chrono::nanoseconds::max();
  if (value == "minimal") return std::chrono::nanoseconds(0);
  size_t used = 0;
  double seconds = -1;
  try {
    seconds = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  // Written so that NaN fails too.
  if (used != value.size() || value.empty() || !(seconds >= 0 && seconds <= 1e9)) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{} '{}' must be seconds, 'indefinite' or 'minimal'", option, value));
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(seconds * 1e9));
}

uint64_t CgroupMemoryLimit(const std::string& cgroup_root, const std::string& proc_cgroup) {
  uint64_t limit = 0;
  auto consider = [&](const std::string& file) {
    std::ifstream in(file);
    std::string value;
    if (!(in >> value) || value == "max") return;
    try {
      uint64_t v = std::stoull(value);
      if (v > 0 && (limit == 0 || v < limit)) limit = v;
    } catch (const std::exception&) {
    }
  };
  // Each line: "hierarchy-id:controllers:path". A limit set on an ancestor binds as well, so
  // walk from the process's group up to the root (which, in a cgroup namespace, is the
  // container's group: its paths read "/").
  std::istringstream lines(proc_cgroup);
  std::string line;
  while (std::getline(lines, line)) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    std::string dir, file;
    if (controllers.empty()) {  // v2
      dir = cgroup_root;
      file = "memory.max";
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      dir = cgroup_root + "/memory";
      file = "memory.limit_in_bytes";
    } else {
      continue;
    }
    while (!path.empty() && path.back() == '/') path.pop_back();
    for (;;) {
      consider(dir + path + "/" + file);
      size_t up = path.rfind('/');
      if (up == std::string::npos) break;
      path.resize(up);
    }
  }
  return limit;
}

// --memory-target is for the whole process, as in Mountpoint: data buffers get what the
// rest leaves. Beyond the data budget the process holds: libfuse's request buffers (1 MiB per
// worker, 16), the connections' 512 KiB receive buffers (24), allocator arenas, ~11 MiB at
// rest, and reads served past an exhausted budget rather than waiting (at most the kernel's
// max_background = 64 requests of 1 MiB). Measured with 8 buffered readers at the default
// 512 MiB target: 523 MiB peak holding back 96 MiB, so 128 MiB is held back.
constexpr uint64_t kProcessOverheadBytes = 128ull << 20;

uint64_t DataBudget(uint64_t target) {
  return target - std::min(kProcessOverheadBytes, target / 4);
}

uint64_t DefaultMemoryTarget() {
  uint64_t available =
      static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::ifstream self("/proc/self/cgroup");
  std::stringstream text;
  text << self.rdbuf();
  uint64_t cgroup = CgroupMemoryLimit("/sys/fs/cgroup", text.str());
  if (cgroup) available = std::min(available, cgroup);
  return std::min(kDefaultMemoryTarget, available / 4);
}

namespace {

// Options whose text Finish() turns into Config fields.
struct RawOptions {
  std::string file_mode = "0644", dir_mode = "0755", ttl = "1", negative_ttl = "1";
  std::string checksums = "crc32c";
  uint64_t part_size = 0, memory_target_mib = 0, max_staging_mib = 0, max_cache_mib = 0;
  uint64_t keep_pages_mib = 0;
  bool keep_read_pages = false;
};

// CLI11 converts "-5" into a huge unsigned number; refuse the sign before it does.
CLI::Validator NotNegative() {
  return CLI::Validator(
      [](std::string& value) {
        return value.find('-') != std::string::npos ? std::string("must not be negative")
                                                    : std::string();
      },
      "", "not negative");
}

void AddWhatAndWhere(CLI::App& app, Config& c) {
  app.add_option("BUCKET", c.bucket, "Bucket name, access point ARN, or s3://BUCKET/PREFIX/")
      ->required();
  app.add_option("DIRECTORY", c.mountpoint, "Directory to mount the bucket at")->required();
  app.add_option("--prefix", c.prefix, "Mount only keys under this prefix (ends in '/')");
  app.add_option("--region", c.region,
                 "AWS region (default: AWS_REGION, profile, IMDS, us-east-1)");
  app.add_option("--endpoint-url", c.endpoint_url, "S3 endpoint URL (default: AWS_ENDPOINT_URL)");
  app.add_flag("--force-path-style", c.force_path_style, "Use path-style addressing");
  app.add_option("--profile", c.profile,
                 "Profile of the AWS shared config files, the only credentials source then");
  app.add_flag("--no-sign-request", c.no_sign_request, "Send unsigned requests (public buckets)");
  app.add_flag("--requester-pays", c.requester_pays, "Accept requester-pays charges");
  app.add_option("--ca-bundle", c.ca_bundle, "CA certificates file (default: AWS_CA_BUNDLE)");
  app.add_flag("--transfer-acceleration", c.transfer_acceleration,
               "Use S3 Transfer Acceleration (must be enabled on the bucket; not with "
               "--endpoint-url)");
  app.add_flag("--dual-stack", c.dual_stack,
               "Use S3's dual-stack (IPv4 and IPv6) endpoints (not with --endpoint-url)");
  app.add_option("--bucket-type", c.bucket_type,
                 "general-purpose or directory: checked, and otherwise the same requests "
                 "(docs/CONFIGURATION.md)");
  app.add_option("--expected-bucket-owner", c.expected_bucket_owner,
                 "Account ID of the expected bucket owner: requests to a bucket of another "
                 "account fail with access denied");
  app.add_option("--sse", c.sse,
                 "Server-side encryption of new objects: aws:kms, aws:kms:dsse or AES256");
  app.add_option("--sse-kms-key-id", c.sse_kms_key_id,
                 "KMS key ARN for --sse aws:kms or aws:kms:dsse");
}

void AddPermissions(CLI::App& app, Config& c, RawOptions& raw) {
  app.add_flag("--read-only", c.read_only,
               "Mount read-only (excludes --allow-delete and --allow-overwrite)");
  app.add_flag("--allow-delete", c.allow_delete, "Allow deleting files");
  app.add_flag("--allow-overwrite", c.allow_overwrite, "Allow overwriting files (with O_TRUNC)");
  app.add_flag("--incremental-upload", c.incremental_upload,
               "Allow opening existing files for writing (appending, or replacing with "
               "O_TRUNC), through staged writes; rename over a file still needs "
               "--allow-overwrite");
  app.add_flag("--posix", c.posix,
               "Keep modes, owners, mtimes and symlinks in object metadata (s3fs-fuse's "
               "format); costs a HEAD per listed entry");
  app.add_flag("--allow-other", c.allow_other, "Allow other users to access the mount");
  app.add_flag("--allow-root", c.allow_root, "Allow root to access the mount");
  app.add_flag("--auto-unmount", c.auto_unmount, "Unmount when the daemon exits");
  app.add_option("--uid", c.uid, "Owner uid of files (default: the mounting user)")
      ->check(NotNegative());
  app.add_option("--gid", c.gid, "Owner gid of files (default: the mounting user)")
      ->check(NotNegative());
  app.add_option("--file-mode", raw.file_mode, "Permissions of files (octal)")
      ->capture_default_str();
  app.add_option("--dir-mode", raw.dir_mode, "Permissions of directories (octal)")
      ->capture_default_str();
}

void AddPerformance(CLI::App& app, Config& c, RawOptions& raw) {
  app.add_option("--max-threads", c.max_threads, "FUSE worker threads")->capture_default_str();
  app.add_option("--part-size", raw.part_size, "Read and write part size in bytes")
      ->check(NotNegative());
  app.add_option("--read-part-size", c.read_part_size, "Read part size in bytes")
      ->capture_default_str()
      ->check(NotNegative());
  app.add_option("--write-part-size", c.write_part_size, "Write part size in bytes")
      ->capture_default_str()
      ->check(NotNegative());
  app.add_option("--maximum-throughput-gbps", c.maximum_throughput_gbps,
                 "Target throughput; sets the connections in flight")
      ->capture_default_str();
  app.add_option("--metadata-ttl", raw.ttl, "Metadata cache TTL: seconds, indefinite or minimal")
      ->capture_default_str();
  app.add_option("--negative-metadata-ttl", raw.negative_ttl, "TTL of cached misses")
      ->capture_default_str();
  app.add_option("--storage-class", c.storage_class, "Storage class of new objects");
  app.add_option("--upload-checksums", raw.checksums, "crc32c or off")->capture_default_str();
  app.add_flag("--infer-content-type", c.infer_content_type,
               "Set the Content-Type of new objects from the file name's extension (built-in "
               "table); not updated on rename");
  app.add_option("--user-agent-prefix", c.user_agent_prefix,
                 "Put this before s3mount's own User-Agent on every S3 request");
  app.add_option("--bind", c.bind,
                 "Network interface for S3 connections (repeat it to spread connections over "
                 "several)")
      // One interface per --bind, so that BUCKET and DIRECTORY after it stay positional.
      ->expected(1)
      ->allow_extra_args(false)
      ->take_all();
  app.add_option("--memory-target", raw.memory_target_mib,
                 "Memory target of the process in MiB, 64 or more; data buffers get all but "
                 "128 MiB (default: 512, or 1/4 of RAM or the cgroup limit if smaller)")
      ->check(NotNegative());
  app.add_option("--staging-dir", c.staging_dir,
                 "Where files changed in place keep their changed bytes (default: $TMPDIR, "
                 "else /var/tmp)");
  app.add_option("--max-staging-size", raw.max_staging_mib,
                 "Most MiB of changed bytes staged at once; writes past it fail with ENOSPC "
                 "(default: the staging file system's free space less 5% of its size)")
      ->check(NotNegative());
  app.add_flag("--keep-read-pages", raw.keep_read_pages,
               "Keep in the page cache what long buffered reads leave behind (by default the "
               "pages more than 32 MiB behind a sequential reader are dropped, unless it maps "
               "the file)");
  app.add_option("--keep-pages-up-to", raw.keep_pages_mib,
                 "Files up to this many MiB keep their pages in the page cache from one open to "
                 "the next while their ETag is unchanged; longer buffered reads drop the pages "
                 "behind them (default: 1/16 of the machine's memory)")
      ->type_name("MiB")
      ->check(NotNegative());
}

void AddCache(CLI::App& app, Config& c, RawOptions& raw) {
  app.add_option("--cache", c.cache_dir,
                 "Keep the data read in this existing directory, and reuse it while the "
                 "object's ETag is unchanged; sets the default --metadata-ttl to 60")
      ->type_name("DIR");
  app.add_option("--max-cache-size", raw.max_cache_mib,
                 "Most MiB the --cache directory holds (default: keep 5% of its file "
                 "system free)")
      ->type_name("MiB")
      ->check(NotNegative());
  app.add_option("--cache-xz", c.cache_xz_bucket,
                 "Share the data of objects up to 1 MiB with other mounts through this bucket "
                 "of the same S3 store (Mountpoint's shared cache); sets the default "
                 "--metadata-ttl to 60")
      ->type_name("BUCKET");
}

// The text options into the Config, then the checks of the whole.
Status Finish(const RawOptions& raw, Config& c, const std::vector<std::string>& given) {
  auto was_given = [&given](const char* name) {
    return std::find(given.begin(), given.end(), name) != given.end();
  };
  if (raw.part_size) {
    for (const char* name : {"--read-part-size", "--write-part-size"}) {
      if (was_given(name)) {
        return Status(Code::kInvalidArgument,
                      fmt::format("--part-size sets both part sizes: drop it or {}", name));
      }
    }
    c.read_part_size = c.write_part_size = raw.part_size;
  }
  c.drop_behind = !raw.keep_read_pages;
  if (was_given("--keep-pages-up-to") && raw.keep_read_pages) {
    return Status(Code::kInvalidArgument,
                  "--keep-read-pages keeps every page: drop it or --keep-pages-up-to");
  }
  c.keep_pages_bytes = raw.keep_pages_mib << 20;
  if (was_given("--max-staging-size") && raw.max_staging_mib == 0) {
    return Status(Code::kInvalidArgument, "--max-staging-size must be at least 1 (MiB)");
  }
  c.max_staging_bytes = raw.max_staging_mib << 20;
  if (was_given("--max-cache-size")) {
    if (c.cache_dir.empty()) {
      return Status(Code::kInvalidArgument, "--max-cache-size needs --cache DIR");
    }
    if (raw.max_cache_mib == 0) {
      return Status(Code::kInvalidArgument, "--max-cache-size must be at least 1 (MiB)");
    }
  }
  c.max_cache_bytes = raw.max_cache_mib << 20;
  auto memory = MemoryTargetBytes(raw.memory_target_mib, was_given("--memory-target"));
  if (!memory.ok()) return memory.status();
  c.memory_target_bytes = *memory;
  auto fm = ParseMode(raw.file_mode, "--file-mode");
  if (!fm.ok()) return fm.status();
  c.file_mode = *fm;
  auto dm = ParseMode(raw.dir_mode, "--dir-mode");
  if (!dm.ok()) return dm.status();
  c.dir_mode = *dm;
  auto t = ParseTtl(raw.ttl, "--metadata-ttl");
  if (!t.ok()) return t.status();
  c.metadata_ttl = *t;
  // As Mountpoint: cached data is worth keeping the names it belongs to longer.
  bool caching = !c.cache_dir.empty() || was_given("--cache-xz");
  if (caching && !was_given("--metadata-ttl")) c.metadata_ttl = std::chrono::seconds(60);
  auto nt = ParseTtl(raw.negative_ttl, "--negative-metadata-ttl");
  if (!nt.ok()) return nt.status();
  c.negative_metadata_ttl = *nt;
  if (raw.checksums != "crc32c" && raw.checksums != "off") {
    return Status(Code::kInvalidArgument,
                  "--upload-checksums must be 'crc32c' or 'off', not '" + raw.checksums + "'");
  }
  c.upload_checksums = raw.checksums == "crc32c";
  if (was_given("--cache-xz") && c.cache_xz_bucket.empty()) {
    return Status(Code::kInvalidArgument, "--cache-xz needs a bucket name");
  }
  return ValidateConfig(c);
}

std::vector<std::string> GivenOptions(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    if (o->count() > 0) names.push_back(o->get_name());
  }
  return names;
}

}  // namespace

ParsedCommandLine ParseCommandLine(int argc, const char* const* argv) {
  ParsedCommandLine out;
  Config& c = out.config;
  c.uid = getuid();
  c.gid = getgid();
  RawOptions raw;

  CLI::App app{"s3mount: mount an S3 bucket as a local file system", "s3mount"};
  app.set_version_flag("--version", "s3mount " S3MOUNT_VERSION);
  AddWhatAndWhere(app, c);
  AddPermissions(app, c, raw);
  app.add_flag("-f,--foreground", c.foreground, "Stay in the foreground");
  AddPerformance(app, c, raw);
  AddCache(app, c, raw);
  app.add_option("-l,--log-directory", c.log_directory,
                 "Write logs to files here, created if missing (default: syslog)");
  app.add_flag("-d,--debug", c.debug, "Log every operation");
  app.add_flag("--debug-crt", c.debug_crt,
               "Log the transport's (libcurl's) debug lines (Authorization redacted)");
  app.add_flag("--no-log", c.no_log,
               "Log nothing (start-up errors still go to stderr); excludes --log-directory, "
               "--debug, --debug-crt and --log-metrics");
  app.add_option("--prometheus-port", c.prometheus_port,
                 "Serve metrics at http://ADDRESS:PORT/metrics (Prometheus text format)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--prometheus-address", c.prometheus_address,
                 "Address the metrics endpoint listens on (IPv4 or IPv6)")
      ->capture_default_str();
  app.add_flag("--log-metrics", c.log_metrics, "Log the metrics that changed every 5 seconds");
  app.add_option("--otlp-endpoint", c.otlp_endpoint,
                 "Export metrics by OTLP/HTTP (JSON) to ENDPOINT/v1/metrics");
  app.add_option("--otlp-export-interval", c.otlp_export_interval_seconds,
                 "Seconds between OTLP exports (needs --otlp-endpoint)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out.output = app.help();
    return out;
  } catch (const CLI::CallForVersion&) {
    out.output = std::string("s3mount ") + S3MOUNT_VERSION + "\n";
    return out;
  } catch (const CLI::ParseError& e) {
    out.exit_code = 2;
    out.output = "s3mount: " + FirstLine(e.what()) + " (see s3mount --help)\n";
    return out;
  }
  if (Status s = Finish(raw, c, GivenOptions(app)); !s.ok()) {
    out.exit_code = 2;
    out.output = "s3mount: " + s.message() + "\n";
    return out;
  }
  if (app.count("--otlp-export-interval") && c.otlp_endpoint.empty()) {
    out.exit_code = 2;
    out.output = "s3mount: --otlp-export-interval needs --otlp-endpoint\n";
    return out;
  }
  if (app.count("--prometheus-address") && c.prometheus_port == 0) {
    out.exit_code = 2;
    out.output = "s3mount: --prometheus-address needs --prometheus-port\n";
    return out;
  }
  out.run = true;
  return out;
}

}  // namespace s3m
