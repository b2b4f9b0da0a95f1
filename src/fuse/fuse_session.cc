#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <csignal>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common/log.h"
#include "fuse/fuse_adapter.h"
#include "fuse/fuse_ops.h"

namespace s3m {
namespace {

// Kernel tuning, set in the INIT reply.
// Async readahead requests the kernel may keep in flight: enough to keep a prefetch
// window busy (the kernel default of 12 starves parallel streams).
constexpr unsigned kMaxBackground = 64;
constexpr unsigned kCongestionThreshold = kMaxBackground * 3 / 4;

void Init(void* userdata, fuse_conn_info* conn) {
  (void)userdata;
  conn->max_background = kMaxBackground;
  conn->congestion_threshold = kCongestionThreshold;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  // Drop cached pages when a getattr shows the object changed (new size or mtime).
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  // Always readdirplus: its attributes are what make `ls -l` cost LISTs only.
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  // Writes go straight to the upload; the page cache would only reorder them.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  S3M_INFO("FUSE session: max_write={} max_readahead={} max_background={}", conn->max_write,
           conn->max_readahead, conn->max_background);
}

}  // namespace

struct FuseSession::Impl {
  FuseContext context;
  fuse_lowlevel_ops ops{};
  fuse_session* session = nullptr;
  bool mounted = false;
  bool signal_handlers = false;
  int max_threads = 16;

  ~Impl() {
    if (signal_handlers) fuse_remove_signal_handlers(session);
    if (mounted) fuse_session_unmount(session);
    if (session) fuse_session_destroy(session);
  }
};

Result<std::unique_ptr<FuseSession>> FuseSession::Mount(FileSystem* fs, const FuseContext& context,
                                                        const MountOptions& options) {
  std::unique_ptr<FuseSession> s(new FuseSession());
  s->impl_ = std::make_unique<Impl>();
  Impl& impl = *s->impl_;
  impl.context = context;
  impl.context.fs = fs;
  impl.max_threads = options.max_threads;
  FillFuseOps(&impl.ops);
  impl.ops.init = Init;

  std::string opts = "fsname=" + options.fsname + ",subtype=s3mount,default_permissions";
  if (options.allow_other) opts += ",allow_other";
  if (options.allow_root) opts += ",allow_root";
  if (options.auto_unmount) opts += ",auto_unmount";
  if (options.read_only) opts += ",ro";
  std::vector<std::string> argv_s = {"s3mount", "-o", opts};
  if (options.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  impl.session = fuse_session_new(&args, &impl.ops, sizeof(impl.ops), &impl.context);
  fuse_opt_free_args(&args);
  if (impl.session == nullptr) {
    return Status(Code::kInternal, "cannot create the FUSE session (bad mount options?)");
  }
  if (fuse_session_mount(impl.session, options.mountpoint.c_str()) != 0) {
    return Status(Code::kIo, "cannot mount at " + options.mountpoint +
                                 ": FUSE refused (is /dev/fuse usable, and for other users is "
                                 "user_allow_other set in /etc/fuse.conf?)");
  }
  impl.mounted = true;
  if (fuse_set_signal_handlers(impl.session) != 0) {
    return Status(Code::kInternal, "cannot install signal handlers");
  }
  impl.signal_handlers = true;
  return s;
}

FuseSession::~FuseSession() = default;

Status FuseSession::Run() {
  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(config, static_cast<unsigned>(impl_->max_threads));
  fuse_loop_cfg_set_idle_threads(config, static_cast<unsigned>(impl_->max_threads));
  int rc = fuse_session_loop_mt(impl_->session, config);
  fuse_loop_cfg_destroy(config);
  if (rc != 0 && rc != SIGINT && rc != SIGTERM && rc != SIGHUP) {
    return Status(Code::kIo, std::string("FUSE loop failed: ") + std::strerror(rc < 0 ? -rc : rc));
  }
  return Status::Ok();
}

void FuseSession::Exit() { fuse_session_exit(impl_->session); }

void FuseSession::Unmount() {
  if (!impl_->mounted) return;
  if (impl_->signal_handlers) {
    fuse_remove_signal_handlers(impl_->session);
    impl_->signal_handlers = false;
  }
  fuse_session_unmount(impl_->session);
  impl_->mounted = false;
}

}  // namespace s3m
