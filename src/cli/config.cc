#include "cli/config.h"

#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace s3m {
namespace {

constexpr uint64_t kMiB = 1 << 20;
// S3's smallest part (all but the last) and largest part.
constexpr uint64_t kMinPartSize = 5 * kMiB;
constexpr uint64_t kMaxPartSize = 5ull << 30;
constexpr uint64_t kDefaultMemoryTarget = 512 * kMiB;
// A single S3 connection streams roughly 50-100 MiB/s; plan on the low end so the
// target throughput is reached, with a floor that keeps small-request workloads busy.
constexpr double kMiBpsPerConnection = 50.0;
constexpr int kMinConnections = 16;
constexpr int kMaxConnections = 256;

Status Bad(const std::string& msg) {
  return Status(Code::kInvalidArgument, msg);
}

Result<uint32_t> ParseMode(const std::string& v, const std::string& option) {
  size_t used = 0;
  unsigned long mode = 0;
  try {
    mode = std::stoul(v, &used, 8);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty() || mode > 07777) {
    return Bad(fmt::format("{} '{}' is not an octal file mode such as 0644", option, v));
  }
  return static_cast<uint32_t>(mode);
}

// Splits "s3://bucket/prefix/" into bucket and prefix.
Status SplitBucket(Config& c) {
  const std::string scheme = "s3://";
  if (c.bucket.rfind(scheme, 0) != 0) return Status::Ok();
  std::string rest = c.bucket.substr(scheme.size());
  auto slash = rest.find('/');
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  c.bucket = rest.substr(0, slash);
  if (!prefix.empty()) {
    if (!c.prefix.empty()) return Bad("give the prefix once: in s3://BUCKET/PREFIX/ or --prefix");
    c.prefix = prefix;
  }
  return Status::Ok();
}

Status Validate(Config& c) {
  if (Status s = SplitBucket(c); !s.ok()) return s;
  if (c.bucket.empty()) return Bad("the bucket name is empty");
  if (!c.prefix.empty() && c.prefix.back() != '/') {
    return Bad(fmt::format("prefix '{}' must end in '/' (try '{}/')", c.prefix, c.prefix));
  }
  if (c.write_part_size < kMinPartSize || c.write_part_size > kMaxPartSize) {
    return Bad(fmt::format("--write-part-size must be between {} and {} bytes", kMinPartSize,
                           kMaxPartSize));
  }
  if (c.read_part_size < 64 * 1024 || c.read_part_size > kMaxPartSize) {
    return Bad(fmt::format("--read-part-size must be between 65536 and {} bytes", kMaxPartSize));
  }
  if (!c.endpoint_url.empty()) {
    auto sep = c.endpoint_url.find("://");
    std::string scheme = sep == std::string::npos ? "" : c.endpoint_url.substr(0, sep);
    if ((scheme != "http" && scheme != "https") || c.endpoint_url.size() == sep + 3) {
      return Bad(
          fmt::format("invalid endpoint URL '{}': expected http://HOST[:PORT] or "
                      "https://HOST[:PORT]",
                      c.endpoint_url));
    }
  }
  if (c.max_threads < 1) return Bad("--max-threads must be at least 1");
  if (!(c.maximum_throughput_gbps > 0)) return Bad("--maximum-throughput-gbps must be positive");
  if (c.allow_other && c.allow_root)
    return Bad("--allow-other and --allow-root exclude each other");
  return Status::Ok();
}

std::string FirstLine(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

}  // namespace

int Config::MaxConnections() const {
  double mibps = maximum_throughput_gbps * 1e9 / 8 / kMiB;
  int n = static_cast<int>(std::ceil(mibps / kMiBpsPerConnection));
  return std::clamp(n, kMinConnections, kMaxConnections);
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
  if (used != value.size() || value.empty() || seconds < 0 || seconds > 1e9) {
    return Bad(fmt::format("{} '{}' must be seconds, 'indefinite' or 'minimal'", option, value));
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

ParsedCommandLine ParseCommandLine(int argc, const char* const* argv) {
  ParsedCommandLine out;
  Config& c = out.config;
  c.uid = getuid();
  c.gid = getgid();
  std::string file_mode = "0644", dir_mode = "0755", ttl = "1", negative_ttl = "1";
  std::string checksums = "crc32c";
  uint64_t part_size = 0, memory_target_mib = 0;

  CLI::App app{"s3mount: mount an S3 bucket as a local file system", "s3mount"};
  app.set_version_flag("--version", "s3mount " S3MOUNT_VERSION);
  app.add_option("BUCKET", c.bucket, "Bucket name, or s3://BUCKET/PREFIX/")->required();
  app.add_option("DIRECTORY", c.mountpoint, "Directory to mount the bucket at")->required();
  app.add_option("--prefix", c.prefix, "Mount only keys under this prefix (ends in '/')");
  app.add_option("--region", c.region,
                 "AWS region (default: AWS_REGION, profile, IMDS, us-east-1)");
  app.add_option("--endpoint-url", c.endpoint_url, "S3 endpoint URL (default: AWS_ENDPOINT_URL)");
  app.add_flag("--force-path-style", c.force_path_style, "Use path-style addressing");
  app.add_option("--profile", c.profile, "Profile of the AWS shared config files");
  app.add_flag("--no-sign-request", c.no_sign_request, "Send unsigned requests (public buckets)");
  app.add_flag("--requester-pays", c.requester_pays, "Accept requester-pays charges");
  app.add_option("--ca-bundle", c.ca_bundle, "CA certificates file (default: AWS_CA_BUNDLE)");
  app.add_flag("--read-only", c.read_only, "Mount read-only");
  app.add_flag("--allow-delete", c.allow_delete, "Allow deleting files");
  app.add_flag("--allow-overwrite", c.allow_overwrite, "Allow overwriting files (with O_TRUNC)");
  app.add_flag("--posix", c.posix,
               "Keep modes, owners, mtimes and symlinks in object metadata (s3fs-fuse's "
               "format); costs a HEAD per listed entry");
  app.add_flag("--allow-other", c.allow_other, "Allow other users to access the mount");
  app.add_flag("--allow-root", c.allow_root, "Allow root to access the mount");
  app.add_flag("--auto-unmount", c.auto_unmount, "Unmount when the daemon exits");
  app.add_option("--uid", c.uid, "Owner uid of files (default: the mounting user)");
  app.add_option("--gid", c.gid, "Owner gid of files (default: the mounting user)");
  app.add_option("--file-mode", file_mode, "Permissions of files (octal)")->capture_default_str();
  app.add_option("--dir-mode", dir_mode, "Permissions of directories (octal)")
      ->capture_default_str();
  app.add_flag("-f,--foreground", c.foreground, "Stay in the foreground");
  app.add_option("--max-threads", c.max_threads, "FUSE worker threads")->capture_default_str();
  app.add_option("--part-size", part_size, "Read and write part size in bytes");
  app.add_option("--read-part-size", c.read_part_size, "Read part size in bytes")
      ->capture_default_str();
  app.add_option("--write-part-size", c.write_part_size, "Write part size in bytes")
      ->capture_default_str();
  app.add_option("--maximum-throughput-gbps", c.maximum_throughput_gbps,
                 "Target throughput; sets the connections in flight")
      ->capture_default_str();
  app.add_option("--metadata-ttl", ttl, "Metadata cache TTL: seconds, indefinite or minimal")
      ->capture_default_str();
  app.add_option("--negative-metadata-ttl", negative_ttl, "TTL of cached misses")
      ->capture_default_str();
  app.add_option("--storage-class", c.storage_class, "Storage class of new objects");
  app.add_option("--upload-checksums", checksums, "crc32c or off")->capture_default_str();
  app.add_option("--memory-target", memory_target_mib,
                 "Memory target of the process in MiB; data buffers get all but 128 MiB "
                 "(default: 512, or 1/4 of RAM or the cgroup limit if smaller)");
  bool keep_read_pages = false;
  app.add_flag("--keep-read-pages", keep_read_pages,
               "Keep in the page cache what long buffered reads leave behind (by default the "
               "pages more than 32 MiB behind a sequential reader are dropped, unless it maps "
               "the file)");
  app.add_option("-l,--log-directory", c.log_directory,
                 "Write logs to files here (default: syslog)");
  app.add_flag("-d,--debug", c.debug, "Log every operation");

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

  auto fail = [&out](const Status& s) {
    out.exit_code = 2;
    out.output = "s3mount: " + s.message() + "\n";
    return out;
  };
  if (part_size) c.read_part_size = c.write_part_size = part_size;
  c.drop_behind = !keep_read_pages;
  if (memory_target_mib) c.memory_target_bytes = memory_target_mib * kMiB;
  auto fm = ParseMode(file_mode, "--file-mode");
  if (!fm.ok()) return fail(fm.status());
  c.file_mode = *fm;
  auto dm = ParseMode(dir_mode, "--dir-mode");
  if (!dm.ok()) return fail(dm.status());
  c.dir_mode = *dm;
  auto t = ParseTtl(ttl, "--metadata-ttl");
  if (!t.ok()) return fail(t.status());
  c.metadata_ttl = *t;
  auto nt = ParseTtl(negative_ttl, "--negative-metadata-ttl");
  if (!nt.ok()) return fail(nt.status());
  c.negative_metadata_ttl = *nt;
  if (checksums != "crc32c" && checksums != "off") {
    return fail(Bad("--upload-checksums must be 'crc32c' or 'off', not '" + checksums + "'"));
  }
  c.upload_checksums = checksums == "crc32c";
  if (Status s = Validate(c); !s.ok()) return fail(s);
  out.run = true;
  return out;
}

}  // namespace s3m
