// s3mount-memfs: a development mount backed by the in-memory object client, to measure the
// FUSE path and the file system core alone (no network, no S3). Never for real data: the
// objects live in this process and vanish when it exits.
//   s3mount-memfs --objects 4 --size 1073741824 /mnt/mem    # then read /mnt/mem/obj-0 ...
// Runs in the foreground until unmounted (fusermount3 -u) or signalled.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "common/log.h"
#include "fs/file_system.h"
#include "fuse/fuse_adapter.h"
#include "memory/memory_budget.h"
#include "s3/memory_object_client.h"

int main(int argc, char** argv) {
  using namespace s3m;
  std::string mountpoint;
  int objects = 1;
  uint64_t size = 1 << 30;
  uint64_t memory_mib = 512;
  int threads = 16;
  CLI::App app{"s3mount-memfs: s3mount over an in-memory bucket (FUSE path benchmarks)"};
  app.add_option("DIRECTORY", mountpoint)->required();
  app.add_option("--objects", objects, "Objects obj-0..obj-N-1 to create")->capture_default_str();
  app.add_option("--size", size, "Bytes per object")->capture_default_str();
  app.add_option("--memory-target", memory_mib, "Data buffer budget in MiB")->capture_default_str();
  app.add_option("--max-threads", threads, "FUSE worker threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  BlockTerminationSignals();
  InitLogging(LogTarget::kStderr, "", false);
  // Completions on another thread, as with the real client.
  MemoryObjectClient client({.async = true, .completion_threads = 2});
  std::string pattern(size, '\0');
  for (uint64_t i = 0; i < size; i++) pattern[i] = static_cast<char>(i * 131 + (i >> 12));
  for (int i = 0; i < objects; i++) client.Put("obj-" + std::to_string(i), pattern);
  pattern = std::string();

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
