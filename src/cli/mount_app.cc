#include "cli/mount_app.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include <sys/resource.h>
#include <unistd.h>

#include "cache/block_cache.h"
#include "cache/caching_client.h"
#include "cache/shared_block_store.h"
#include "cache/tiered_block_store.h"
#include "common/log.h"
#include "fs/file_system.h"
#include "fuse/fuse_adapter.h"
#include "http/http_client.h"
#include "memory/memory_budget.h"
#include "metrics/log_exporter.h"
#include "metrics/mount_metrics.h"
#include "metrics/otlp_exporter.h"
#include "metrics/prometheus_exporter.h"
#include "s3/credentials.h"
#include "s3/endpoint.h"
#include "s3/s3_object_client.h"

namespace s3m {
namespace {

// The start-up probe fails fast: an unreachable endpoint is reported in seconds, not
// after the data path's full retry budget.
constexpr int kProbeAttempts = 2;

// The --cache-xz bucket's client: a cache that does not answer costs one retry at most
// before the read goes to the mounted bucket. Each GET of it waits on a worker of the
// CachingClient, so with it the client gets as many workers as it has connections: small
// files read at once (the shared cache's use) are not held to the 4 the disk cache needs.
// Its PUTs (at most SharedStoreOptions::max_puts_in_flight) share the connections.
constexpr int kSharedCacheAttempts = 2;
constexpr int kSharedCacheConnections = 16;
constexpr int kSharedCacheWorkers = kSharedCacheConnections;
constexpr int kLocalCacheWorkers = 4;  // disk reads and writes of 1 MiB blocks

std::string CaBundle(const Config& c, const GetEnvFn& getenv) {
  if (!c.ca_bundle.empty()) return c.ca_bundle;
  return getenv("AWS_CA_BUNDLE").value_or("");
}

// Mountpoint's form: the user's prefix, then the program and its version.
std::string UserAgent(const Config& c) {
  std::string own = std::string("s3mount/") + S3MOUNT_VERSION;
  return c.user_agent_prefix.empty() ? own : c.user_agent_prefix + " " + own;
}

std::unique_ptr<S3ObjectClient> NewClient(const Config& c, const S3ClientOptions& options,
                                          CredentialsProvider* creds, int max_connections) {
  CurlHttpOptions h;
  h.max_connections = max_connections;
  h.ca_bundle = CaBundle(c, ProcessEnv());
  h.user_agent = UserAgent(c);
  h.interfaces = c.bind;
  // Logged at info: --debug-crt shows the transport without all of --debug's lines.
  if (c.debug_crt) h.debug_log = [](const std::string& line) { S3M_INFO("{}", line); };
  return std::make_unique<S3ObjectClient>(NewCurlHttpClient(h), creds, RealClock::Get(), options);
}

// One LIST of the prefix: proves the endpoint, credentials, region and bucket work.
Status Probe(const Config& c, const S3ClientOptions& options, CredentialsProvider* creds) {
  S3ClientOptions o = options;
  o.retry.max_attempts = kProbeAttempts;
  auto client = NewClient(c, o, creds, 1);
  auto r = Wait<ListObjectsResult>([&](auto cb) {
    client->ListObjects({.prefix = c.prefix, .delimiter = "/", .max_keys = 1}, cb);
  });
  if (r.ok()) return Status::Ok();
  Status s = r.status();
  std::string where = options.endpoint.base_url;
  switch (s.code()) {
    case Code::kNoSuchBucket:
      return s.set_message(fmt::format("bucket '{}' does not exist at {}", c.bucket, where));
    case Code::kNetwork:
    case Code::kTimeout:
      return s.set_message(
          fmt::format("cannot reach the S3 endpoint {}: {} (check --endpoint-url "
                      "and the network)",
                      where, s.message()));
    case Code::kAccessDenied:
      if (creds != nullptr) {
        // Which keys were refused: the answer to "why not the ones I meant?".
        Result<Credentials> used = creds->Get();
        std::string who = used.ok() ? used->Describe() : "no credentials";
        return s.set_message(fmt::format("cannot list bucket '{}' at {} with {}: {}", c.bucket,
                                         where, who, s.ToString()));
      }
      [[fallthrough]];
    default:
      return s.set_message(
          fmt::format("cannot list bucket '{}' at {}: {}", c.bucket, where, s.ToString()));
  }
}

// The data cache's pieces (--cache, --cache-xz), declared so that destruction runs: the
// tiers, the local cache, the shared store (which waits for its PUTs), its client.
struct DataCache {
  std::unique_ptr<S3ObjectClient> xz_client;
  std::unique_ptr<SharedBlockStore> shared;
  std::unique_ptr<BlockCache> local;
  std::unique_ptr<TieredBlockStore> tiers;

  BlockStore* store() const {
    if (tiers) return tiers.get();
    if (local) return local.get();
    return shared.get();
  }
};

// The error with the option it concerns in front.
Status Named(const char* option, Status s) {
  std::string m = fmt::format("{}: {}", option, s.message());
  return s.set_message(std::move(m));
}

// How many cache blocks may be hot (their piece CRCs in memory, 1 KiB each, and their
// version's file kept open: a random-read hit then costs one pread), and so at most how
// many cache files are open: a quarter of the descriptors the process may have, after
// raising its soft limit to the hard one, up to 16,384 (16 GiB of data read at random,
// 16 MiB of memory).
size_t HotCacheBlocks() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    rlimit raised = r;
    raised.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) r = raised;
  }
  if (r.rlim_cur == RLIM_INFINITY) return 16384;
  return std::min<size_t>(16384, r.rlim_cur / 4);
}

Status OpenLocalCache(const Config& c, metrics::Registry* registry, DataCache* out) {
  auto files = OpenPosixBlockFiles(c.cache_dir + "/s3mount-cache");
  if (!files.ok()) return Named("--cache", files.status());
  CacheOptions co;
  co.max_bytes = c.max_cache_bytes;
  co.hot_blocks = HotCacheBlocks();
  auto opened = BlockCache::Open(std::move(*files), co, RegisterCacheMetrics(registry));
  if (!opened.ok()) return Named("--cache", opened.status());
  out->local = std::move(*opened);
  return Status::Ok();
}

// A client of the cache bucket with the mount's endpoint options and credentials, and one
// PUT that proves the bucket is there and takes writes. Its requests are left out of the
// s3mount_s3_* series, which count the mounted bucket's; the store counts its own.
Status OpenSharedCache(const Config& c, const S3ClientOptions& data, const std::string& region,
                       CredentialsProvider* creds, metrics::Registry* registry, DataCache* out) {
  const std::string& bucket = c.cache_xz_bucket;
  auto endpoint = ResolveEndpoint(
      {bucket, region, c.endpoint_url, c.force_path_style, c.transfer_acceleration, c.dual_stack},
      ProcessEnv());
  if (!endpoint.ok()) return Named("--cache-xz", endpoint.status());
  S3ClientOptions o = data;
  o.bucket = bucket;
  o.endpoint = *endpoint;
  o.retry.max_attempts = kSharedCacheAttempts;
  o.metrics = nullptr;
  out->xz_client = NewClient(c, o, creds, kSharedCacheConnections);
  out->shared = std::make_unique<SharedBlockStore>(
      out->xz_client.get(), c.bucket, SharedStoreOptions{}, RegisterSharedCacheMetrics(registry));
  Status s = out->shared->Probe();
  if (s.ok()) {
    S3M_INFO("shared cache: blocks of objects up to {} KiB in s3://{}/{}/",
             kSharedCacheMaxObjectBytes >> 10, bucket, out->shared->prefix());
    return s;
  }
  if (s.code() == Code::kNoSuchBucket) {
    return s.set_message(
        fmt::format("--cache-xz: bucket '{}' does not exist at {}", bucket, endpoint->base_url));
  }
  return s.set_message(fmt::format("--cache-xz: cannot write to bucket '{}' at {}: {}", bucket,
                                   endpoint->base_url, s.ToString()));
}

Status OpenDataCache(const Config& c, const S3ClientOptions& data, const std::string& region,
                     CredentialsProvider* creds, metrics::Registry* registry, DataCache* out) {
  if (!c.cache_dir.empty()) {
    if (Status s = OpenLocalCache(c, registry, out); !s.ok()) return s;
  }
  if (!c.cache_xz_bucket.empty()) {
    if (Status s = OpenSharedCache(c, data, region, creds, registry, out); !s.ok()) return s;
  }
  if (out->local && out->shared) {
    out->tiers = std::make_unique<TieredBlockStore>(out->local.get(), out->shared.get());
  }
  return Status::Ok();
}

// Files up to 1/16 of the machine's memory keep their pages from one open to the next (read
// twice, read from memory); longer streams drop behind them (drop_behind.h) as before.
uint64_t KeepPagesBytes() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 16;
}

FsOptions MakeFsOptions(const Config& c, metrics::MountMetrics* m) {
  FsOptions o;
  o.reader.window_gauge = m->prefetch_window_bytes;
  o.uploads_gauge = m->uploads_in_flight;
  o.prefix = c.prefix;
  o.uid = c.uid;
  o.gid = c.gid;
  o.file_mode = c.file_mode;
  o.dir_mode = c.dir_mode;
  o.read_only = c.read_only;
  o.allow_delete = c.allow_delete;
  o.allow_overwrite = c.allow_overwrite;
  o.incremental_upload = c.incremental_upload;
  o.posix = c.posix;
  o.metadata_ttl = c.metadata_ttl;
  o.negative_metadata_ttl = c.negative_metadata_ttl;
  o.reader.read_part_size = c.read_part_size;
  if (!c.cache_dir.empty()) {
    o.reader.random_read_alignment = 4096;
    // The cache widens a stream's first GET to whole blocks anyway; asked for as such, it
    // leaves the parts after it block-aligned, fetched straight into the reader's buffers.
    o.reader.first_request_bytes =
        (kFirstRequestBytes + kCacheBlockBytes - 1) / kCacheBlockBytes * kCacheBlockBytes;
  }
  o.reader.ask_cache_first = !c.cache_dir.empty() || !c.cache_xz_bucket.empty();
  o.writer.write_part_size = c.write_part_size;
  o.writer.checksum = c.upload_checksums ? ChecksumAlgorithm::kCrc32c : ChecksumAlgorithm::kNone;
  o.writer.storage_class = c.storage_class;
  o.staging_dir = c.staging_dir;
  o.staging_limit_bytes = c.max_staging_bytes;
  return o;
}

// --prometheus-port and --log-metrics, over the registry every module counts into. Started
// before the probe, so that a port in use fails the mount at once.
struct Exporters {
  Status Start(const Config& c, const metrics::Registry* registry) {
    if (c.prometheus_port != 0) {
      auto p = metrics::PrometheusExporter::Start(registry, c.prometheus_address,
                                                  static_cast<uint16_t>(c.prometheus_port),
                                                  "--prometheus-port");
      if (!p.ok()) return p.status();
      prometheus = std::move(*p);
    }
    if (c.log_metrics) {
      log = std::make_unique<metrics::LogExporter>(registry, metrics::kLogMetricsPeriod);
    }
    if (!c.otlp_endpoint.empty()) {
      otlp = std::make_unique<metrics::OtlpExporter>(
          registry, c.otlp_endpoint, std::chrono::seconds(c.otlp_export_interval_seconds));
    }
    return Status::Ok();
  }
  std::unique_ptr<metrics::PrometheusExporter> prometheus;
  std::unique_ptr<metrics::LogExporter> log;
  std::unique_ptr<metrics::OtlpExporter> otlp;
};

}  // namespace

int RunMount(const Config& c, StartupReporter& reporter) {
  GetEnvFn env = ProcessEnv();
  CredentialsOptions copts;
  copts.profile = c.profile;
  bool custom_endpoint =
      !c.endpoint_url.empty() || env("AWS_ENDPOINT_URL_S3") || env("AWS_ENDPOINT_URL");
  std::string region = ResolveRegion(c.region, copts, /*ask_imds=*/!custom_endpoint);
  auto endpoint = ResolveEndpoint(
      {c.bucket, region, c.endpoint_url, c.force_path_style, c.transfer_acceleration, c.dual_stack},
      env);
  if (!endpoint.ok()) {
    reporter.Failed(endpoint.status().message());
    return 2;
  }
  S3ClientOptions so;
  so.bucket = c.bucket;
  so.region = region;
  so.endpoint = *endpoint;
  so.anonymous = c.no_sign_request;
  so.requester_pays = c.requester_pays;
  so.sse = c.sse;
  so.sse_kms_key_id = c.sse_kms_key_id;
  so.expected_bucket_owner = c.expected_bucket_owner;
  so.infer_content_type = c.infer_content_type;
  so.retry = RetryOptionsFromEnv(RetryOptions{}, env);
  // Counted always (relaxed atomics); exported with --prometheus-port or --log-metrics.
  metrics::Registry registry;
  metrics::MountMetrics mount_metrics(&registry);
  so.metrics = &mount_metrics.s3;

  // Declared so that destruction runs: session, file system, client (whose completions
  // still touch buffers), credentials, exporters, trimmer, pool, budget, metrics.
  MemoryBudget budget(
      DataBudget(c.memory_target_bytes ? c.memory_target_bytes : DefaultMemoryTarget()));
  metrics::RegisterMemoryBudget(&registry, &budget);
  BufferPool pool(&budget);
  // Buffers left cached by streams that ended go back to the system after 10-15 s idle,
  // so a mount between jobs holds no data memory (streaming recycles them every few ms).
  IdleTrimmer trimmer(&pool, std::chrono::seconds(5), std::chrono::seconds(10));
  Exporters exporters;
  if (Status s = exporters.Start(c, &registry); !s.ok()) {
    reporter.Failed(s.message());
    return 1;
  }
  std::unique_ptr<CredentialsProvider> creds;
  if (!c.no_sign_request) {
    creds = NewDefaultCredentialsChain(copts);
    // Before any request: a missing profile or key is told as itself, not as a failed LIST.
    if (Result<Credentials> first = creds->Get(); !first.ok()) {
      reporter.Failed(first.status().message());
      return 1;
    }
  }
  if (Status s = Probe(c, so, creds.get()); !s.ok()) {
    reporter.Failed(s.message());
    return 1;
  }
  // Declared before the client, so destroyed after its last completion.
  DataCache data_cache;
  std::unique_ptr<CachingClient> cached;
  if (Status s = OpenDataCache(c, so, region, creds.get(), &registry, &data_cache); !s.ok()) {
    reporter.Failed(s.message());
    return 1;
  }
  auto client = NewClient(c, so, creds.get(), c.MaxConnections());
  ObjectClient* data_client = client.get();
  if (BlockStore* store = data_cache.store()) {
    int workers = data_cache.shared ? kSharedCacheWorkers : kLocalCacheWorkers;
    CachingOptions co;
    co.skipped_bytes = registry.AddCounter(
        "s3mount_cache_skipped_bytes_total",
        "Streamed bytes not kept in the cache because its writes were behind the reader");
    cached = std::make_unique<CachingClient>(client.get(), store,
                                             endpoint->base_url + " " + c.bucket, workers, co);
    data_client = cached.get();
  }
  FileSystem fs(data_client, &pool, MakeFsOptions(c, &mount_metrics));

  MountOptions mo;
  mo.mountpoint = c.mountpoint;
  mo.fsname = "s3mount:" + c.bucket;
  mo.allow_other = c.allow_other;
  mo.allow_root = c.allow_root;
  mo.auto_unmount = c.auto_unmount;
  mo.read_only = c.read_only;
  mo.max_threads = c.max_threads;
  mo.drop_behind = c.drop_behind;
  FuseContext ctx;
  ctx.attr_ttl = c.metadata_ttl;
  ctx.negative_ttl = c.negative_metadata_ttl;
  ctx.keep_pages_bytes = c.keep_pages_bytes != 0 ? c.keep_pages_bytes : KeepPagesBytes();
  ctx.metrics = &mount_metrics.fuse;
  auto session = FuseSession::Mount(&fs, ctx, mo);
  if (!session.ok()) {
    reporter.Failed(session.status().message());
    return 1;
  }
  S3M_INFO("mounted s3://{}/{} at {} (endpoint {}, region {}, memory target {} MiB)", c.bucket,
           c.prefix, c.mountpoint, endpoint->base_url, region, budget.limit() >> 20);
  if (exporters.prometheus) {
    S3M_INFO("metrics at http://{}:{}/metrics", c.prometheus_address, exporters.prometheus->port());
  }
  Status run = (*session)->Run([&reporter] { reporter.Ready(); });
  NotifySystemd("STOPPING=1");
  S3M_INFO("unmounting {}: waiting for uploads of closed files", c.mountpoint);
  fs.DrainUploads();
  (*session)->Unmount();
  S3M_INFO("S3 requests: {}", client->metrics().Format());
  if (data_cache.xz_client) {
    S3M_INFO("--cache-xz bucket requests: {}", data_cache.xz_client->metrics().Format());
  }
  if (!run.ok()) {
    S3M_ERROR("{}", run.ToString());
    return 1;
  }
  S3M_INFO("unmounted {}", c.mountpoint);
  return 0;
}

}  // namespace s3m
