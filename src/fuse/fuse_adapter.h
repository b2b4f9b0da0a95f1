// FuseAdapter: the libfuse 3 low-level adapter. It translates each FUSE request into a
// FileSystem call and each result into exactly one reply, usually from the completion
// thread of the request's S3 operation, so no FUSE worker waits on the network.
// This is the only place that includes fuse_lowlevel.h.
//
// Threading: libfuse's multi-threaded loop calls the operations on its workers;
// replies come from those workers or from client completion threads. No lock is held
// here across fuse_reply_*.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "fs/file_system.h"
#include "fuse/fuse_ops.h"

namespace s3m {

struct MountOptions {
  std::string mountpoint;
  std::string fsname;  // shown in /proc/mounts ("s3mount:bucket")
  bool allow_other = false;
  bool allow_root = false;
  bool auto_unmount = false;
  bool read_only = false;
  bool debug = false;       // libfuse's own request tracing
  int max_threads = 16;     // FUSE worker threads
  bool drop_behind = true;  // drop cached pages behind long buffered reads (drop_behind.h)
};

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and the threads it creates
// afterwards; call it first in main(). The session's watcher thread then handles them:
// the first detaches the mount (open files keep working until closed), a second stops.
void BlockTerminationSignals();

class FuseSession {
 public:
  // Creates the session and mounts it; errors say what to do ("is /dev/fuse there?").
  // `context` carries the TTLs the replies use; its fs field is set to `fs`.
  static Result<std::unique_ptr<FuseSession>> Mount(FileSystem* fs, const FuseContext& context,
                                                    const MountOptions& options);
  ~FuseSession();  // unmounts if still mounted

  // Serves requests until unmounted (by fusermount3 -u, umount, or a signal once the
  // files open then are closed). `on_ready` runs once, on another thread, when the kernel
  // has finished setting up the mount and its readahead is raised: only then is it
  // ready for applications (see fuse_session.cc).
  Status Run(std::function<void()> on_ready = nullptr);
  void Unmount();

 private:
  FuseSession() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace s3m
