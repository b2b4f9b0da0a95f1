// See startup_checks.h.
#include "cli/startup_checks.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "cli/config_checks.h"
#include "fs/staging_file.h"

namespace s3m {
namespace {

// PEM bundles (the system's is ~220 KiB) are read whole; a file far larger is not one.
constexpr size_t kMaxCaBundleBytes = 16 << 20;
constexpr char kPemCertificate[] = "-----BEGIN CERTIFICATE-----";

Status Bad(const std::string& msg) {
  return Status(Code::kInvalidArgument, msg);
}

std::string Errno() {
  return std::strerror(errno);
}

// A regular file this process can read, or why not.
Status CheckReadableFile(const std::string& path, const std::string& source) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return Bad(fmt::format("{} {}: {} (give an existing file)", source, path, Errno()));
  }
  if (!S_ISREG(st.st_mode)) return Bad(fmt::format("{} {} is not a file", source, path));
  if (access(path.c_str(), R_OK) != 0) {
    return Bad(fmt::format("{} {} cannot be read: {}", source, path, Errno()));
  }
  return Status::Ok();
}

Status CheckMaxAttempts(const std::string& value) {
  size_t used = 0;
  long n = 0;
  try {
    n = std::stol(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size() || n < 1) {
    return Bad(
        fmt::format("AWS_MAX_ATTEMPTS '{}' must be a whole number of attempts, at least 1", value));
  }
  return Status::Ok();
}

}  // namespace

Status CheckLogDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Bad(fmt::format("--log-directory {} cannot be created: {} (choose a writable directory)",
                           dir, ec.message()));
  }
  std::string probe = dir + "/.s3mount-probe-XXXXXX";
  int fd = mkstemp(probe.data());
  if (fd < 0) {
    return Bad(fmt::format("--log-directory {} cannot be written: {} (choose a writable directory)",
                           dir, Errno()));
  }
  close(fd);
  unlink(probe.c_str());
  return Status::Ok();
}

Status CheckCacheDirectory(const Config& c) {
  if (c.cache_dir.empty()) return Status::Ok();
  struct stat st {};
  if (stat(c.cache_dir.c_str(), &st) != 0) {
    return Bad(fmt::format("--cache {}: {} (give an existing directory)", c.cache_dir, Errno()));
  }
  if (!S_ISDIR(st.st_mode)) return Bad(fmt::format("--cache {} is not a directory", c.cache_dir));
  if (access(c.cache_dir.c_str(), W_OK | X_OK) != 0) {
    return Bad(fmt::format("--cache {} cannot be written: {}", c.cache_dir, Errno()));
  }
  return Status::Ok();
}

Status CheckStagingDirectory(Config& c, const GetEnvFn& getenv) {
  const bool named = !c.staging_dir.empty();
  // Issue 19's rule: changed bytes go under the cache directory when there is one.
  if (!named && !c.cache_dir.empty()) c.staging_dir = c.cache_dir;
  if (c.staging_dir.empty()) c.staging_dir = getenv("TMPDIR").value_or("/var/tmp");
  if (c.staging_dir.empty()) c.staging_dir = "/var/tmp";
  const char* source = named ? "--staging-dir" : "the staging directory ($TMPDIR or /var/tmp)";
  auto file = StagingFile::Create(c.staging_dir);
  if (!file.ok()) {
    return Bad(
        fmt::format("{} {} cannot hold staging files: {} (choose another with "
                    "--staging-dir)",
                    source, c.staging_dir, file.status().message()));
  }
  if (c.max_staging_bytes != 0) return Status::Ok();
  struct statvfs vfs {};
  if (statvfs(c.staging_dir.c_str(), &vfs) != 0) {
    return Bad(fmt::format("{} {}: {}", source, c.staging_dir, Errno()));
  }
  // As Mountpoint's cache default: use the free space but leave 5% of the file system free.
  uint64_t free_bytes = uint64_t{vfs.f_bavail} * vfs.f_frsize;
  uint64_t reserve = uint64_t{vfs.f_blocks} * vfs.f_frsize / 20;
  c.max_staging_bytes = free_bytes > reserve ? free_bytes - reserve : 0;
  if (c.max_staging_bytes == 0) {
    return Bad(
        fmt::format("{} {} has less than 5% free: free space or choose another with "
                    "--staging-dir",
                    source, c.staging_dir));
  }
  return Status::Ok();
}

Status CheckCaBundle(const Config& c, const GetEnvFn& getenv) {
  std::string source = "--ca-bundle", path = c.ca_bundle;
  if (path.empty()) {
    source = "AWS_CA_BUNDLE";
    path = getenv("AWS_CA_BUNDLE").value_or("");
    if (path.empty()) return Status::Ok();
  }
  if (Status s = CheckReadableFile(path, source); !s.ok()) return s;
  std::ifstream in(path, std::ios::binary);
  std::string text;
  text.resize(kMaxCaBundleBytes);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.find(kPemCertificate) == std::string::npos) {
    return Bad(fmt::format("{} {} holds no PEM certificate ({}): give a CA bundle in PEM form",
                           source, path, kPemCertificate));
  }
  return Status::Ok();
}

Status CheckEnvironment(const GetEnvFn& getenv) {
  for (const char* var : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}) {
    auto v = getenv(var);
    if (!v || v->empty()) continue;
    if (Status s = CheckEndpointUrl(*v, var); !s.ok()) return s;
    break;  // the first one set is the one used
  }
  for (const char* var : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (Status s = CheckRegion(getenv(var).value_or(""), var); !s.ok()) return s;
  }
  if (auto v = getenv("AWS_MAX_ATTEMPTS")) {
    if (Status s = CheckMaxAttempts(*v); !s.ok()) return s;
  }
  // A file the user named on purpose: a typo there must not fall back to other credentials.
  for (const char* var :
       {"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE"}) {
    std::string path = getenv(var).value_or("");
    if (path.empty()) continue;
    if (path.rfind("~/", 0) == 0) path = getenv("HOME").value_or("") + path.substr(1);
    if (Status s = CheckReadableFile(path, var); !s.ok()) return s;
  }
  return Status::Ok();
}

Status MakePathsAbsolute(Config& c) {
  std::error_code ec;
  for (std::string* path : {&c.mountpoint, &c.log_directory, &c.ca_bundle, &c.staging_dir,
                            &c.cache_dir}) {
    if (path->empty() || (*path)[0] == '/') continue;
    std::filesystem::path absolute = std::filesystem::absolute(*path, ec);
    if (ec) return Status(Code::kIo, fmt::format("cannot resolve {}: {}", *path, ec.message()));
    *path = absolute.lexically_normal().string();
  }
  return Status::Ok();
}

}  // namespace s3m
