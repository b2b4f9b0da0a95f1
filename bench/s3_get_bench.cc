// s3_get_bench: the S3 client alone (no FUSE) against a real server, for issue 2's
// benchmark. Modes (see --help):
//   mkbucket  creates the bucket (a signed PUT /bucket; ObjectClient has no CreateBucket)
//   put       uploads K objects of S bytes with deterministic content (multipart, parallel)
//   get       N ranged GETs of R bytes over those objects, P in flight (a closed loop),
//             one reused buffer per slot; verifies a sample of every response and prints
//             one line: bytes, seconds, MiB/s, process CPU seconds and CPU s/GiB
//   presign   a curl config (-K) for the same N requests, for `curl --parallel`
// The request plan (which object and offset the i-th GET reads) is one function shared
// by `get` and `presign`, so both clients fetch exactly the same bytes.
// Single-threaded main; client completions run on the S3 client's event-loop thread.
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "http/http_client.h"
#include "s3/credential_providers.h"
#include "s3/endpoint.h"
#include "s3/object_client.h"
#include "s3/s3_object_client.h"
#include "s3/sigv4.h"

namespace s3m::bench {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr double kGiB = 1024.0 * 1024 * 1024;
// Words checked per GET response: enough to catch a wrong object, offset or a torn
// buffer, cheap next to moving 8 MiB (16 x 8 bytes).
constexpr uint64_t kSampleWords = 16;
// Presigned URLs only need to outlive one benchmark round.
constexpr std::chrono::seconds kPresignExpires{3600};
// The first bucket on a fresh RGW creates its pools, which takes seconds.
constexpr std::chrono::milliseconds kMkbucketTimeout{60000};

struct Options {
  std::string endpoint = "http://127.0.0.1:17480";
  std::string bucket = "bench";
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  std::string prefix = "obj-";
  uint64_t objects = 4;               // K
  uint64_t object_size = 512 * kMiB;  // S
  uint64_t part_size = 16 * kMiB;     // put: multipart part size
  uint64_t range_size = 8 * kMiB;     // R
  uint64_t requests = 256;            // N
  int parallel = 8;                   // P
  int connections = 0;                // 0: P
  int event_threads = 1;
};

// Slot buffers are aligned to and marked for transparent huge pages: P x 8 MiB of 4 KiB
// pages otherwise take ~16k first-touch page faults (~50 ms, a cost of this harness rather
// than of the client) in every run.
constexpr size_t kHugePage = 2 << 20;  // x86-64 PMD page

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<char[], FreeDeleter>;

Buffer AllocateBuffer(uint64_t size) {
  size_t rounded = (size + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (p == nullptr) {
    std::fprintf(stderr, "s3_get_bench: out of memory\n");
    std::exit(1);
  }
  madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure just means 4 KiB pages
  return Buffer(static_cast<char*>(p));
}

// ---- deterministic content: object k's 8-byte word w is Mix(k, w), little-endian.

uint64_t Mix(uint64_t object, uint64_t word) {
  uint64_t z = (object << 48) ^ word ^ 0x9e3779b97f4a7c15ULL;  // splitmix64's finalizer
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint8_t ExpectedByte(uint64_t object, uint64_t pos) {
  return static_cast<uint8_t>(Mix(object, pos / 8) >> (8 * (pos % 8)));
}

// Fills buf with bytes [offset, offset + size) of `object`; offset is a multiple of 8.
void Fill(uint64_t object, uint64_t offset, char* buf, uint64_t size) {
  uint64_t words = size / 8;
  for (uint64_t w = 0; w < words; ++w) {
    uint64_t v = Mix(object, offset / 8 + w);
    std::memcpy(buf + 8 * w, &v, 8);  // little-endian hosts only (x86-64, arm64)
  }
  for (uint64_t i = words * 8; i < size; ++i) buf[i] = ExpectedByte(object, offset + i);
}

// Returns an empty string when the sampled bytes match, else what differs.
std::string Verify(uint64_t object, uint64_t offset, const char* buf, uint64_t size) {
  uint64_t step = std::max<uint64_t>(size / kSampleWords, 1);
  for (uint64_t at = 0; at < size; at += step) {
    uint64_t end = std::min(at + 8, size);
    for (uint64_t i = at; i < end; ++i) {
      if (static_cast<uint8_t>(buf[i]) != ExpectedByte(object, offset + i)) {
        return fmt::format("object {} byte {} differs", object, offset + i);
      }
    }
  }
  if (static_cast<uint8_t>(buf[size - 1]) != ExpectedByte(object, offset + size - 1)) {
    return fmt::format("object {} last byte {} differs", object, offset + size - 1);
  }
  return "";
}

// ---- the request plan shared by get and presign.

struct Request {
  uint64_t object;
  uint64_t offset;
};

std::string Key(const Options& o, uint64_t object) {
  return fmt::format("{}{:03}", o.prefix, object);
}

// Request i reads range-aligned chunk g = i mod (K * chunks): consecutive requests go to
// different objects, and N = K * chunks reads every chunk once.
std::vector<Request> Plan(const Options& o) {
  uint64_t chunks = o.object_size / o.range_size;
  std::vector<Request> plan;
  plan.reserve(o.requests);
  for (uint64_t i = 0; i < o.requests; ++i) {
    uint64_t g = i % (o.objects * chunks);
    plan.push_back({g % o.objects, (g / o.objects) * o.range_size});
  }
  return plan;
}

// ---- set-up shared by the modes.

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "s3_get_bench: %s\n", message.c_str());
  std::exit(1);
}

Credentials MakeCredentials(const Options& o) {
  if (o.access_key.empty() || o.secret_key.empty()) {
    Die("credentials missing: pass --access-key and --secret-key (or set AWS_ACCESS_KEY_ID "
        "and AWS_SECRET_ACCESS_KEY)");
  }
  return Credentials{o.access_key, o.secret_key, "", std::nullopt, "bench"};
}

Endpoint MakeEndpoint(const Options& o) {
  auto endpoint = ResolveEndpoint({.bucket = o.bucket,
                                   .region = o.region,
                                   .endpoint_url = o.endpoint,
                                   .force_path_style = true},
                                  [](const std::string&) { return std::nullopt; });
  if (!endpoint.ok()) Die(endpoint.status().ToString());
  return *endpoint;
}

struct Client {
  std::unique_ptr<CredentialsProvider> credentials;
  std::unique_ptr<S3ObjectClient> s3;
};

Client MakeClient(const Options& o, int connections) {
  Client c;
  c.credentials = NewStaticCredentialsProvider(MakeCredentials(o));
  CurlHttpOptions http;
  http.max_connections = connections;
  http.event_threads = o.event_threads;
  S3ClientOptions s3;
  s3.bucket = o.bucket;
  s3.region = o.region;
  s3.endpoint = MakeEndpoint(o);
  c.s3 = std::make_unique<S3ObjectClient>(NewCurlHttpClient(http), c.credentials.get(),
                                          RealClock::Get(), s3);
  return c;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

// Counts finished operations and keeps the first error; the main thread waits on it.
class Completion {
 public:
  void Done(const std::string& error) {
    std::lock_guard lock(mu_);
    if (!error.empty() && error_.empty()) error_ = error;
    ++done_;
    cv_.notify_all();
  }
  // Waits until `count` operations finished; returns the first error or "".
  std::string WaitFor(uint64_t count) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_ >= count; });
    return error_;
  }
  bool Failed() {
    std::lock_guard lock(mu_);
    return !error_.empty();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t done_ = 0;  // guarded by mu_
  std::string error_;  // guarded by mu_
};

// ---- mkbucket

int RunMkbucket(const Options& o) {
  Endpoint endpoint = MakeEndpoint(o);
  SignableRequest req;
  req.method = "PUT";
  req.path = endpoint.path_prefix;  // "/bucket" (path-style)
  req.headers.emplace_back("host", endpoint.host);
  SigningParams params;
  params.region = o.region;
  params.time = std::chrono::system_clock::now();
  params.payload_hash = kEmptyPayloadSha256;  // RGW checks the hash of the (empty) body
  SignRequest(req, MakeCredentials(o), params);
  SimpleHttpRequest put;
  put.method = "PUT";
  put.url = endpoint.base_url + req.path;
  put.headers = req.headers;
  put.timeout = kMkbucketTimeout;
  HttpResponse r = FetchBlocking(put);
  if (!r.transport.ok()) Die("mkbucket: " + r.transport.ToString());
  bool exists = r.status == 409 && r.body.find("BucketAlreadyOwnedByYou") != std::string::npos;
  if (r.status != 200 && !exists) Die(fmt::format("mkbucket: HTTP {}: {}", r.status, r.body));
  std::printf("bucket %s ready\n", o.bucket.c_str());
  return 0;
}

// ---- put

struct Upload {
  std::string key;
  std::string upload_id;
  std::vector<CompletedPart> parts;
};

void CreateUploads(ObjectClient& client, const Options& o, std::vector<Upload>& uploads) {
  for (uint64_t k = 0; k < o.objects; ++k) {
    Upload& u = uploads[k];
    u.key = Key(o, k);
    auto r = Wait<CreateMultipartUploadResult>(
        [&](auto cb) { client.CreateMultipartUpload({.key = u.key}, cb); });
    if (!r.ok()) Die("CreateMultipartUpload " + u.key + ": " + r.status().ToString());
    u.upload_id = r->upload_id;
    u.parts.resize((o.object_size + o.part_size - 1) / o.part_size);
  }
}

// Uploads every part of every object, P at a time, each slot's buffer refilled in turn.
void UploadParts(ObjectClient& client, const Options& o, std::vector<Upload>& uploads) {
  std::vector<Buffer> buffers(o.parallel);
  std::vector<int> free_slots;
  for (int s = 0; s < o.parallel; ++s) {
    buffers[s] = AllocateBuffer(o.part_size);
    free_slots.push_back(s);
  }
  std::mutex mu;
  std::condition_variable cv;
  Completion completion;
  uint64_t started = 0;
  for (uint64_t k = 0; k < o.objects && !completion.Failed(); ++k) {
    for (size_t p = 0; p < uploads[k].parts.size() && !completion.Failed(); ++p) {
      int slot;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !free_slots.empty(); });
        slot = free_slots.back();
        free_slots.pop_back();
      }
      uint64_t offset = p * o.part_size;
      uint64_t size = std::min(o.part_size, o.object_size - offset);
      Fill(k, offset, buffers[slot].get(), size);
      UploadPartParams params{.key = uploads[k].key,
                              .upload_id = uploads[k].upload_id,
                              .part_number = static_cast<int>(p + 1),
                              .data = buffers[slot].get(),
                              .size = size};
      ++started;
      client.UploadPart(params, [&, k, p, slot](Result<UploadPartResult> r) {
        if (r.ok()) uploads[k].parts[p] = r->part;
        {
          std::lock_guard lock(mu);
          free_slots.push_back(slot);
        }
        cv.notify_one();
        completion.Done(r.ok() ? "" : "UploadPart: " + r.status().ToString());
      });
    }
  }
  std::string error = completion.WaitFor(started);
  if (!error.empty()) Die(error);
}

int RunPut(const Options& o) {
  if (o.part_size % 8 != 0 || o.part_size < 5 * kMiB) {
    Die("--part-size must be a multiple of 8 and at least 5 MiB (S3's minimum part)");
  }
  Client c = MakeClient(o, o.parallel);
  auto start = std::chrono::steady_clock::now();
  std::vector<Upload> uploads(o.objects);
  CreateUploads(*c.s3, o, uploads);
  UploadParts(*c.s3, o, uploads);
  for (Upload& u : uploads) {
    auto r = Wait<CompleteMultipartUploadResult>([&](auto cb) {
      c.s3->CompleteMultipartUpload({.key = u.key, .upload_id = u.upload_id, .parts = u.parts}, cb);
    });
    if (!r.ok()) Die("CompleteMultipartUpload " + u.key + ": " + r.status().ToString());
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double bytes = static_cast<double>(o.objects * o.object_size);
  std::printf("put objects=%llu bytes=%.0f seconds=%.3f MiB/s=%.1f\n",
              static_cast<unsigned long long>(o.objects), bytes, seconds, bytes / kMiB / seconds);
  return 0;
}

// ---- get

// The closed loop: each slot owns one buffer; when its GET completes (on the client's
// thread) the slot verifies the sample and starts the next request of the plan.
class GetLoop {
 public:
  GetLoop(ObjectClient& client, const Options& o, std::vector<Request> plan)
      : client_(client), o_(o), plan_(std::move(plan)), buffers_(o.parallel) {
    for (auto& b : buffers_) b = AllocateBuffer(o.range_size);
  }

  // Runs every request; returns the first error or "".
  std::string Run() {
    for (int s = 0; s < o_.parallel; ++s) Next(s);
    return completion_.WaitFor(plan_.size());
  }
  uint64_t bytes() const { return bytes_.load(); }

 private:
  void Next(int slot) {
    uint64_t i = next_.fetch_add(1);
    // After an error, stop early but still account for every request.
    for (; i < plan_.size() && completion_.Failed(); i = next_.fetch_add(1)) completion_.Done("");
    if (i >= plan_.size()) return;
    const Request& req = plan_[i];
    GetObjectParams params{.key = Key(o_, req.object),
                           .offset = req.offset,
                           .length = o_.range_size,
                           .buffer = buffers_[slot].get()};
    client_.GetObject(std::move(params), [this, slot, i](Result<GetObjectResult> r) {
      std::string error = Check(plan_[i], r, buffers_[slot].get());
      if (error.empty()) bytes_.fetch_add(r->bytes);
      completion_.Done(error);
      Next(slot);
    });
  }

  std::string Check(const Request& req, const Result<GetObjectResult>& r, const char* buf) {
    if (!r.ok()) return "GetObject " + Key(o_, req.object) + ": " + r.status().ToString();
    if (r->bytes != o_.range_size) {
      return fmt::format("GetObject {} at {}: {} bytes, wanted {}", Key(o_, req.object), req.offset,
                         r->bytes, o_.range_size);
    }
    return Verify(req.object, req.offset, buf, r->bytes);
  }

  ObjectClient& client_;
  const Options& o_;
  const std::vector<Request> plan_;
  std::vector<Buffer> buffers_;
  std::atomic<uint64_t> next_{0};
  std::atomic<uint64_t> bytes_{0};
  Completion completion_;
};

int RunGet(const Options& o) {
  Client c = MakeClient(o, o.connections > 0 ? o.connections : o.parallel);
  GetLoop loop(*c.s3, o, Plan(o));
  double cpu0 = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  std::string error = loop.Run();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = CpuSeconds() - cpu0;
  if (!error.empty()) Die(error);
  double bytes = static_cast<double>(loop.bytes());
  HttpStats stats = c.s3->http_stats();
  std::printf(
      "get requests=%llu parallel=%d bytes=%.0f seconds=%.3f MiB/s=%.1f cpu_s=%.3f "
      "cpu_s_per_GiB=%.3f connections=%llu\n",
      static_cast<unsigned long long>(o.requests), o.parallel, bytes, seconds,
      bytes / kMiB / seconds, cpu, cpu / (bytes / kGiB),
      static_cast<unsigned long long>(stats.connections_opened));
  return 0;
}

// ---- presign

int RunPresign(const Options& o) {
  Credentials creds = MakeCredentials(o);
  Endpoint endpoint = MakeEndpoint(o);
  auto now = std::chrono::system_clock::now();
  std::vector<Request> plan = Plan(o);
  for (size_t i = 0; i < plan.size(); ++i) {
    SignableRequest req;
    req.method = "GET";
    req.path = endpoint.KeyPath(Key(o, plan[i].object));
    // Only host is signed, so the same URL serves any Range header.
    req.headers.emplace_back("host", endpoint.host);
    SigningParams params;
    params.region = o.region;
    params.time = now;
    PresignRequest(req, creds, params, kPresignExpires);
    std::string url = endpoint.base_url + req.path;
    for (size_t q = 0; q < req.query.size(); ++q) {
      url += (q == 0 ? "?" : "&") + req.query[q].first + "=" + req.query[q].second;
    }
    // `next` starts a new option group, so each header applies to its own URL only; the
    // per-transfer options (fail, write-out) must be repeated in every group.
    if (i > 0) std::printf("next\n");
    std::printf(
        "url = \"%s\"\noutput = \"/dev/null\"\nheader = \"Range: bytes=%llu-%llu\"\n"
        "fail\nwrite-out = \"%%{http_code} %%{size_download}\\n\"\n",
        url.c_str(), static_cast<unsigned long long>(plan[i].offset),
        static_cast<unsigned long long>(plan[i].offset + o.range_size - 1));
  }
  return 0;
}

// ---- command line

void AddCommonOptions(CLI::App& app, Options& o) {
  app.add_option("--endpoint", o.endpoint, "S3 endpoint URL (path-style addressing)")
      ->envname("RGW_ENDPOINT")
      ->capture_default_str();
  app.add_option("--bucket", o.bucket, "bucket")->capture_default_str();
  app.add_option("--region", o.region, "region signed into requests")->capture_default_str();
  app.add_option("--access-key", o.access_key, "access key id")->envname("AWS_ACCESS_KEY_ID");
  app.add_option("--secret-key", o.secret_key, "secret access key")
      ->envname("AWS_SECRET_ACCESS_KEY");
  app.add_option("--prefix", o.prefix, "object keys are PREFIX000, PREFIX001, ...")
      ->capture_default_str();
  app.add_option("-K,--objects", o.objects, "number of objects")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("-S,--object-size", o.object_size, "bytes per object (512MiB, ...)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("-P,--parallel", o.parallel, "requests in flight")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
}

void AddGetOptions(CLI::App& cmd, Options& o) {
  cmd.add_option("-N,--requests", o.requests, "number of ranged GETs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("-R,--range-size", o.range_size, "bytes per GET (8MiB, ...)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"S3 client benchmark: ranged GETs from large objects (issue 2)"};
  app.require_subcommand(1);
  app.fallthrough();
  AddCommonOptions(app, o);
  auto* mkbucket = app.add_subcommand("mkbucket", "create the bucket (signed PUT /bucket)");
  auto* put = app.add_subcommand("put", "upload K objects of S bytes (multipart, P in flight)");
  put->add_option("--part-size", o.part_size, "multipart part size")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  auto* get = app.add_subcommand("get", "N ranged GETs, P in flight; prints one result line");
  AddGetOptions(*get, o);
  get->add_option("--connections", o.connections, "connection bound (default: P)");
  get->add_option("--event-threads", o.event_threads, "HTTP event-loop threads")
      ->capture_default_str();
  auto* presign = app.add_subcommand("presign", "a curl -K config for the same N GETs");
  AddGetOptions(*presign, o);
  CLI11_PARSE(app, argc, argv);

  if ((get->parsed() || presign->parsed()) &&
      (o.range_size == 0 || o.range_size % 8 != 0 || o.range_size > o.object_size)) {
    Die("--range-size must be a non-zero multiple of 8, at most --object-size");
  }
  if (mkbucket->parsed()) return RunMkbucket(o);
  if (put->parsed()) return RunPut(o);
  if (get->parsed()) return RunGet(o);
  return RunPresign(o);
}

}  // namespace
}  // namespace s3m::bench

int main(int argc, char** argv) {
  return s3m::bench::Main(argc, argv);
}
