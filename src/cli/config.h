// Config: the command line (and AWS environment) turned into one immutable value. Parsing
// runs the checks of config_checks.h; those that need the system (files, directories, AWS_*
// variables) are in startup_checks.h. Pure apart from reading the environment and the user
// ids; any thread, though main() calls it once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace s3m {

struct Config {
  std::string bucket;
  std::string prefix;  // "" or ending in '/'
  std::string mountpoint;

  std::string region;  // empty: resolved from the environment, profile or IMDS
  std::string endpoint_url;
  bool force_path_style = false;
  std::string profile;
  bool no_sign_request = false;
  bool requester_pays = false;
  std::string ca_bundle;  // empty: AWS_CA_BUNDLE, else the system store

  // Mountpoint 1.24's request and endpoint options (docs/CONFIGURATION.md).
  bool transfer_acceleration = false;  // bucket.s3-accelerate.amazonaws.com
  bool dual_stack = false;             // the IPv6-capable s3.dualstack.REGION.amazonaws.com
  std::string bucket_type;             // "", "general-purpose" or "directory"
  std::string expected_bucket_owner;   // x-amz-expected-bucket-owner on every request
  std::string user_agent_prefix;       // put before "s3mount/VERSION" in User-Agent
  std::string sse;                     // "", "aws:kms", "aws:kms:dsse" or "AES256"
  std::string sse_kms_key_id;          // a KMS key ARN, with --sse aws:kms[:dsse]
  bool infer_content_type = false;     // Content-Type from the file name's extension
  std::vector<std::string> bind;       // network interfaces the connections spread over

  bool read_only = false;
  bool allow_delete = false;
  bool allow_overwrite = false;
  // Existing files open for writing (appends, O_TRUNC), as allow_overwrite; no rename over.
  bool incremental_upload = false;
  bool posix = false;  // --posix: FsOptions::posix
  bool allow_other = false;
  bool allow_root = false;
  bool auto_unmount = false;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t file_mode = 0644;
  uint32_t dir_mode = 0755;

  bool foreground = false;
  int max_threads = 16;
  uint64_t read_part_size = 8 << 20;
  uint64_t write_part_size = 8 << 20;
  double maximum_throughput_gbps = 10.0;
  std::chrono::nanoseconds metadata_ttl = std::chrono::seconds(1);
  std::chrono::nanoseconds negative_metadata_ttl = std::chrono::seconds(1);
  std::string storage_class;
  bool upload_checksums = true;
  uint64_t memory_target_bytes = 0;  // 0: the default (see DefaultMemoryTarget)
  bool drop_behind = true;           // drop cached pages behind long buffered reads
  uint64_t keep_pages_bytes = 0;     // files up to this keep their pages; 0: 1/16 of RAM
  // Local bytes of files changed in place (docs/SEMANTICS.md, Writing).
  std::string staging_dir;         // empty: $TMPDIR, else /var/tmp
  uint64_t max_staging_bytes = 0;  // 0: all but 5% of the staging file system's free space
  // The local data cache (--cache, --max-cache-size): docs/SEMANTICS.md, Caching.
  std::string cache_dir;         // empty: no data cache
  uint64_t max_cache_bytes = 0;  // 0: keep 5% of the cache's file system free
  // --cache-xz: the bucket (same store and credentials) the nodes share blocks of small
  // objects in (docs/CONFIGURATION.md, Caching); empty: none.
  std::string cache_xz_bucket;

  std::string log_directory;
  bool debug = false;
  bool debug_crt = false;  // the transport's (libcurl's) debug log
  bool no_log = false;

  int prometheus_port = 0;  // 0: no Prometheus endpoint
  std::string prometheus_address = "127.0.0.1";
  bool log_metrics = false;  // log the counters that changed, every few seconds

  std::string otlp_endpoint;  // OTLP/HTTP base URL; metrics go to {endpoint}/v1/metrics
  int otlp_export_interval_seconds = 60;

  // The mount point is "/dev/fd/N": a FUSE fd the caller opened and mounted (CSI drivers).
  bool MountsFd() const;

  // Connections (and so requests in flight) for the target throughput.
  int MaxConnections() const;
};

// What the command line asks for: run with a Config, or exit at once with a code and a
// message (--help, --version, or a one-line error for a bad argument: exit 2).
struct ParsedCommandLine {
  bool run = false;
  int exit_code = 0;
  std::string output;  // for stdout (help, version) or stderr (errors)
  Config config;
};

ParsedCommandLine ParseCommandLine(int argc, const char* const* argv);

// "30" seconds, "0.5", "indefinite" or "minimal".
Result<std::chrono::nanoseconds> ParseTtl(const std::string& value, const std::string& option);

// 512 MiB, or a quarter of the memory available to this process (RAM or cgroup limit),
// whichever is smaller.
uint64_t DefaultMemoryTarget();

// The bytes data buffers may hold under a memory target: the target less what the rest of
// the process needs (128 MiB, or a quarter of a small target).
uint64_t DataBudget(uint64_t memory_target);

// The smallest memory limit of this process's cgroup and its ancestors, cgroup v2
// (memory.max) or v1 (memory/.../memory.limit_in_bytes), or 0 if none is set. An unlimited
// v1 group reads as ~2^63, which the caller's min() with the RAM size absorbs.
// `cgroup_root` is where the hierarchy is mounted (/sys/fs/cgroup) and `proc_cgroup` the
// text of /proc/self/cgroup; both are parameters so that tests can fake them.
uint64_t CgroupMemoryLimit(const std::string& cgroup_root, const std::string& proc_cgroup);

}  // namespace s3m
