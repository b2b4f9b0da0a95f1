// Value, range and consistency checks of the command line (see config_checks.h).
#include "cli/config_checks.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <limits>

#include "cli/bucket_name.h"
#include "cli/compat_checks.h"

namespace s3m {
namespace {

constexpr uint64_t kMiB = 1 << 20;
// S3's smallest part (all but the last) and largest part.
constexpr uint64_t kMinPartSize = 5 * kMiB;
constexpr uint64_t kMaxPartSize = 5ull << 30;
// A ranged GET smaller than this costs more in requests than it saves in memory.
constexpr uint64_t kMinReadPartSize = 64 * 1024;
// Besides data buffers the process holds ~40 MiB (libfuse's 16 request buffers, the
// connections' receive buffers, ~11 MiB at rest; see mount_app.cc): a smaller target
// cannot be met.
constexpr uint64_t kMinMemoryTargetMiB = 64;
// 1 PiB: beyond any machine, and far from overflowing MiB << 20.
constexpr uint64_t kMaxMemoryTargetMiB = 1ull << 30;
// chown(2) reads (uid_t)-1 as "leave unchanged": it owns no file.
constexpr uint64_t kNoId = std::numeric_limits<uint32_t>::max();
constexpr int kMaxPort = 65535;

Status Bad(const std::string& msg) {
  return Status(Code::kInvalidArgument, msg);
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

// --cache-xz BUCKET or s3://BUCKET/: a bucket of its own, without a prefix (as Mountpoint).
Status CheckCacheXz(Config& c) {
  if (c.cache_xz_bucket.empty()) return Status::Ok();
  std::string name = c.cache_xz_bucket;
  if (name.rfind("s3://", 0) == 0) {
    name = name.substr(5);
    auto slash = name.find('/');
    if (slash != std::string::npos && slash + 1 != name.size()) {
      return Bad(fmt::format("--cache-xz takes a bucket without a prefix: give s3://{}/ or {}",
                             name.substr(0, slash), name.substr(0, slash)));
    }
    name = name.substr(0, slash);
  }
  if (name.empty()) return Bad("--cache-xz needs a bucket name");
  if (Status s = CheckBucketName(name, "--cache-xz"); !s.ok()) return s;
  if (name == c.bucket) {
    return Bad(fmt::format(
        "--cache-xz {} is the mounted bucket: give the cache a bucket of its own", name));
  }
  c.cache_xz_bucket = name;
  return Status::Ok();
}

// The port after the host, if any, must be a number a socket can use.
bool ValidHostAndPort(const std::string& authority) {
  size_t host_end = authority.front() == '[' ? authority.find(']') : authority.find(':');
  if (authority.front() == '[') {
    if (host_end == std::string::npos) return false;
    ++host_end;
    if (host_end == authority.size()) return true;
    if (authority[host_end] != ':') return false;
  }
  if (host_end == 0) return false;
  if (host_end == std::string::npos) return true;
  std::string port = authority.substr(host_end + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  int n = std::stoi(port);
  return n >= 1 && n <= kMaxPort;
}

}  // namespace

Status CheckEndpointUrl(const std::string& url, const std::string& source) {
  auto fail = [&] {
    return Bad(fmt::format("{} '{}' is not a URL such as http://HOST[:PORT] or https://HOST[:PORT]",
                           source, url));
  };
  auto sep = url.find("://");
  std::string scheme = sep == std::string::npos ? "" : url.substr(0, sep);
  if (scheme != "http" && scheme != "https") return fail();
  std::string authority = url.substr(sep + 3);
  while (!authority.empty() && authority.back() == '/') authority.pop_back();
  if (authority.empty() || authority.find_first_of("/?# \t@") != std::string::npos ||
      !ValidHostAndPort(authority)) {
    return fail();
  }
  return Status::Ok();
}

Status CheckRegion(const std::string& region, const std::string& source) {
  for (char c : region) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return Bad(fmt::format("{} '{}' is not a region name such as us-east-1", source, region));
    }
  }
  return Status::Ok();
}

namespace {

Status CheckNumbers(const Config& c) {
  if (c.write_part_size < kMinPartSize || c.write_part_size > kMaxPartSize) {
    return Bad(fmt::format("--write-part-size must be between {} and {} bytes", kMinPartSize,
                           kMaxPartSize));
  }
  if (c.read_part_size < kMinReadPartSize || c.read_part_size > kMaxPartSize) {
    return Bad(fmt::format("--read-part-size must be between {} and {} bytes", kMinReadPartSize,
                           kMaxPartSize));
  }
  if (c.max_threads < 1) return Bad("--max-threads must be at least 1");
  if (!(c.maximum_throughput_gbps > 0) || !std::isfinite(c.maximum_throughput_gbps)) {
    return Bad("--maximum-throughput-gbps must be a positive number of Gbit/s, such as 10");
  }
  // A target the user gave is a bound they asked for: a part larger than its data buffers
  // would break it (the default target is not checked: one oversized part is granted when
  // nothing else is held, see memory_budget.h).
  if (c.memory_target_bytes != 0) {
    uint64_t budget = DataBudget(c.memory_target_bytes);
    for (auto [name, size] : {std::pair{"--read-part-size", c.read_part_size},
                              std::pair{"--write-part-size", c.write_part_size}}) {
      if (size > budget) {
        return Bad(fmt::format(
            "{} of {} MiB does not fit in the {} MiB of data buffers that --memory-target {} "
            "leaves: lower the part size or raise the target",
            name, size / kMiB, budget / kMiB, c.memory_target_bytes / kMiB));
      }
    }
  }
  if (c.uid == kNoId || c.gid == kNoId) {
    return Bad(fmt::format("--uid and --gid must be below {} (which means no owner)", kNoId));
  }
  return Status::Ok();
}

// Options that ask for opposite things: refused rather than one silently winning.
Status CheckConflicts(const Config& c) {
  if (c.read_only && (c.allow_delete || c.allow_overwrite)) {
    return Bad(fmt::format("--read-only and {} contradict each other: drop one",
                           c.allow_delete ? "--allow-delete" : "--allow-overwrite"));
  }
  if (c.allow_other && c.allow_root) {
    return Bad(
        "--allow-other and --allow-root exclude each other: drop one (--allow-other "
        "includes root)");
  }
  if (c.no_sign_request && !c.profile.empty()) {
    return Bad("--no-sign-request sends no credentials, so --profile would be ignored: drop one");
  }
  return Status::Ok();
}

}  // namespace

Result<uint32_t> ParseMode(const std::string& v, const std::string& option) {
  size_t used = 0;
  unsigned long mode = 0;
  try {
    mode = std::stoul(v, &used, 8);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty() || v.find_first_not_of("01234567") != std::string::npos ||
      mode > 07777) {
    return Bad(fmt::format("{} '{}' is not an octal file mode such as 0644", option, v));
  }
  return static_cast<uint32_t>(mode);
}

Result<uint64_t> MemoryTargetBytes(uint64_t mib, bool given) {
  if (!given) return uint64_t{0};
  if (mib < kMinMemoryTargetMiB || mib > kMaxMemoryTargetMiB) {
    return Bad(fmt::format("--memory-target must be between {} and {} MiB", kMinMemoryTargetMiB,
                           kMaxMemoryTargetMiB));
  }
  return mib * kMiB;
}

Status ValidateConfig(Config& c) {
  if (Status s = SplitBucket(c); !s.ok()) return s;
  if (c.bucket.empty()) return Bad("the bucket name is empty: give BUCKET or s3://BUCKET/");
  if (Status s = CheckBucketName(c.bucket); !s.ok()) return s;
  if (Status s = CheckCacheXz(c); !s.ok()) return s;
  if (!c.prefix.empty() && c.prefix.back() != '/') {
    return Bad(fmt::format("--prefix '{}' must end in '/' (try '{}/')", c.prefix, c.prefix));
  }
  if (c.mountpoint.empty()) return Bad("the mount DIRECTORY is empty");
  if (!c.endpoint_url.empty()) {
    if (Status s = CheckEndpointUrl(c.endpoint_url, "--endpoint-url"); !s.ok()) return s;
  }
  for (const Status& s : {CheckRegion(c.region, "--region"), CheckNumbers(c), CheckConflicts(c),
                          CheckCompatOptions(c)}) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace s3m
