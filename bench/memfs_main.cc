// s3mount-memfs: a development mount backed by the in-memory object client, to measure the
// FUSE path and the file system core alone (no network, no S3). Never for real data: the
// objects live in this process and vanish when it exits.
//   s3mount-memfs --objects 4 --size 1073741824 /mnt/mem    # then read /mnt/mem/obj-0 ...
// Runs in the foreground until unmounted (fusermount3 -u) or signalled.
#include <sys/mman.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "common/log.h"
#include "fs/file_system.h"
#include "fuse/fuse_adapter.h"
#include "memory/memory_budget.h"
#include "s3/memory_object_client.h"

namespace {

// An object's bytes (a fixed pattern), in transparent huge pages unless `small_pages`. Reads
// reply straight from these bytes, and in 4 KiB pages the kernel's pinning of 256 pages and
// the TLB misses of walking a 1 GiB object cost a 1 MiB reply more than the FUSE path
// does: O_DIRECT dd 4.1-6.6 GB/s with wide swings between mounts, 6.1-7.9 in huge pages.
std::string MakeBody(uint64_t size, bool huge_pages) {
  constexpr uintptr_t kHuge = 2 << 20;
  std::string body;
  body.reserve(size);  // mapped, not yet touched: advise before the first write faults it in
  const auto start = reinterpret_cast<uintptr_t>(body.data());
  const uintptr_t lo = (start + kHuge - 1) / kHuge * kHuge;
  const uintptr_t hi = (start + size) / kHuge * kHuge;
  if (huge_pages && hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
  body.resize(size);
  for (uint64_t i = 0; i < size; i++) body[i] = static_cast<char>(i * 131 + (i >> 12));
  return body;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace s3m;
  std::string mountpoint;
  int objects = 1;
  uint64_t size = 1 << 30;
  uint64_t memory_mib = 512;
  int threads = 16;
  bool lend = true;
  bool huge_pages = true;
  CLI::App app{"s3mount-memfs: s3mount over an in-memory bucket (FUSE path benchmarks)"};
  app.add_option("DIRECTORY", mountpoint)->required();
  app.add_option("--objects", objects, "Objects obj-0..obj-N-1 to create")->capture_default_str();
  app.add_option("--size", size, "Bytes per object")->capture_default_str();
  app.add_option("--memory-target", memory_mib, "Data buffer budget in MiB")->capture_default_str();
  app.add_option("--max-threads", threads, "FUSE worker threads")->capture_default_str();
  app.add_flag("!--copy-gets", lend,
               "Copy GET bodies into part buffers, as the network does, instead of lending them");
  app.add_flag("!--small-pages", huge_pages, "Store the objects in 4 KiB pages");
  CLI11_PARSE(app, argc, argv);

  BlockTerminationSignals();
  InitLogging(LogTarget::kStderr, "", false);
  // Completions on another thread, as with the real client. GETs are answered with the
  // stored bytes (no copy: the backend costs nothing, and what is measured is the FUSE path).
  MemoryObjectClient client({.async = true, .completion_threads = 2, .lend_get_bodies = lend});
  for (int i = 0; i < objects; i++) {
    client.Put("obj-" + std::to_string(i), MakeBody(size, huge_pages));
  }

  MemoryBudget budget(memory_mib << 20);
  BufferPool pool(&budget);
  FsOptions fo;
  fo.uid = getuid();
  fo.gid = getgid();
  fo.metadata_ttl = std::chrono::seconds(60);
  FileSystem fs(&client, &pool, fo);
  FuseContext ctx;
  ctx.attr_ttl = fo.metadata_ttl;
  ctx.negative_ttl = fo.negative_metadata_ttl;
  MountOptions mo;
  mo.mountpoint = mountpoint;
  mo.fsname = "s3mount-memfs";
  mo.max_threads = threads;
  auto session = FuseSession::Mount(&fs, ctx, mo);
  if (!session.ok()) {
    std::fprintf(stderr, "s3mount-memfs: %s\n", session.status().message().c_str());
    return 1;
  }
  // Printed once the mount is ready (readahead raised): the benchmark waits for this line.
  Status s = (*session)->Run([&] {
    std::printf("mounted %d objects of %llu bytes at %s\n", objects,
                static_cast<unsigned long long>(size), mountpoint.c_str());
    std::fflush(stdout);
  });
  fs.DrainUploads();
  (*session)->Unmount();
  return s.ok() ? 0 : 1;
}
