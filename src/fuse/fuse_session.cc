#include <fuse_lowlevel.h>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "fuse/drop_behind.h"
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
  // No auto_inval_data: with it the kernel re-asks for the attributes before a read once
  // they are older than the metadata TTL, which cost every file being read one LIST per TTL
  // (32 reads through one open file at TTL 0: 35 LISTs instead of 3). It guards nothing here:
  // the page cache is emptied at each open (no FOPEN_KEEP_CACHE), and an open file reads
  // one version of its object (ETag) while it stays open.
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  // Always readdirplus: its attributes are what make `ls -l` cost LISTs only.
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  // Writes go straight to the upload; the page cache would only reorder them.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // With async direct I/O the kernel splits one O_DIRECT write into max_write pieces and
  // sends them all at once, so they reach the workers out of order; an upload needs them
  // in order. Without it the pieces come one after the other (each is only a copy into a
  // part buffer, so this costs little), and O_DIRECT reads are served from the prefetcher.
  conn->want &= ~FUSE_CAP_ASYNC_DIO;
  S3M_INFO("FUSE session: max_write={} max_readahead={} max_background={}", conn->max_write,
           conn->max_readahead, conn->max_background);
}

// The kernel's readahead for the mount's backing device. FUSE starts it at 128 KiB, which
// turns a buffered sequential read into 128 KiB round trips; a few MiB lets the kernel send
// 1 MiB reads, several at a time (measured: one buffered dd of 512 MiB from RGW went from
// 266-466 MB/s at 1.46 CPU s/GiB to 595-645 MB/s at 0.78-0.82 s/GiB).
constexpr int kReadAheadKb = 4096;

// Sets read_ahead_kb of the mount's BDI (as root; otherwise leaves the default). It must
// run after the kernel has taken the INIT reply, which lowers the BDI's readahead to the
// max_readahead it offered at mount time (128 KiB), whatever was set before.
// `real` is the mount point's canonical path, as /proc/self/mountinfo lists it.
void SetKernelReadahead(const std::string& real) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line, device;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == real) device = dev;  // the last one is the newest
  }
  if (device.empty()) return;
  std::ofstream ra("/sys/class/bdi/" + device + "/read_ahead_kb");
  ra << kReadAheadKb;
  ra.flush();
  if (ra) {
    S3M_DEBUG("kernel readahead of {} set to {} KiB", real, kReadAheadKb);
  } else {
    S3M_INFO(
        "could not raise the kernel readahead of {} (not root?): buffered sequential reads "
        "will be slower",
        real);
  }
}

// Detaches the mount: new opens fail at once, files already open keep working, and the
// kernel ends the session (and so the request loop) when the last of them is closed.
// Nothing written and closed is lost, and no close in progress is cut off.
void DetachMount(const std::string& mountpoint) {
  if (umount2(mountpoint.c_str(), MNT_DETACH) == 0) return;
  if (errno != EPERM) return;  // EINVAL: already unmounted (e.g. by the unit's ExecStop)
  pid_t pid = fork();          // not root: fusermount3 is setuid and may
  if (pid == 0) {
    execlp("fusermount3", "fusermount3", "-u", "-z", mountpoint.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
}

// Waits for SIGINT/SIGTERM/SIGHUP (blocked in every thread by BlockTerminationSignals) and
// detaches the mount; a second signal ends the loop at once. It is stopped and joined before
// the session goes: a systemd stop unmounts (ExecStop) and then sends SIGTERM, which can
// land while the process exits, and a detached watcher then logged into spdlog's sinks as
// exit destroyed them (SIGSEGV in 23 of 300 stops by hand; nspawn_boot's rare failure).
class SignalWatcher {
 public:
  SignalWatcher(std::string mountpoint, fuse_session* session)
      : mountpoint_(std::move(mountpoint)), session_(session) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
    signals_ = signalfd(-1, &set, SFD_CLOEXEC);
    stop_ = eventfd(0, EFD_CLOEXEC);
    if (signals_ >= 0 && stop_ >= 0) {
      thread_ = std::thread([this] { Run(); });
    } else {
      S3M_ERROR("cannot watch for signals ({}): stop the mount with fusermount3 -u",
                std::strerror(errno));
    }
  }
  ~SignalWatcher() {
    if (thread_.joinable()) {
      // Adding 1 to a new eventfd's counter cannot fail, and a detached watcher is the
      // very crash this class exists to prevent: always join.
      uint64_t one = 1;
      ssize_t n = write(stop_, &one, sizeof one);
      (void)n;
      thread_.join();
    }
    if (signals_ >= 0) close(signals_);
    if (stop_ >= 0) close(stop_);
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  void Run() {
    pollfd fds[2] = {{signals_, POLLIN, 0}, {stop_, POLLIN, 0}};
    for (int received = 0;;) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        S3M_ERROR("signal watcher: poll: {}", std::strerror(errno));
        return;
      }
      if (fds[1].revents != 0) return;
      signalfd_siginfo info{};
      if (read(signals_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
      if (received++ == 0) {
        S3M_INFO("received signal {}: unmounting {} once open files are closed", info.ssi_signo,
                 mountpoint_);
        DetachMount(mountpoint_);
      } else {
        S3M_WARN("received signal {} again: stopping now", info.ssi_signo);
        fuse_session_exit(session_);
      }
    }
  }

  const std::string mountpoint_;
  fuse_session* const session_;
  int signals_ = -1;
  int stop_ = -1;
  std::thread thread_;
};

}  // namespace

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

struct FuseSession::Impl {
  FuseContext context;
  fuse_lowlevel_ops ops{};
  fuse_session* session = nullptr;
  bool mounted = false;
  int max_threads = 16;
  std::string mountpoint;
  std::string real_mountpoint;      // canonical path, empty if it could not be resolved
  std::atomic<uint64_t> device{0};  // st_dev of the mount once it serves; 0 before
  std::unique_ptr<DropBehind> drop_behind;
  std::unique_ptr<SignalWatcher> watcher;

  ~Impl() {
    // Their threads use `session` (and the logger): stopped first.
    watcher.reset();
    drop_behind.reset();
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
  if (options.drop_behind) {
    Impl* ip = &impl;
    DropBehind::Hooks hooks;
    hooks.drop = [ip](const DropBehind::Range& r) {
      int rc = fuse_lowlevel_notify_inval_inode(ip->session, r.ino, static_cast<off_t>(r.offset),
                                                static_cast<off_t>(r.length));
      if (rc != 0 && rc != -ENOENT) S3M_DEBUG("dropping cached pages of {}: {}", r.ino, rc);
    };
    hooks.mapped = [ip](int pid, uint64_t ino) {
      uint64_t dev = ip->device.load();
      return dev == 0 || ProcessMapsFile(pid, dev, ino);
    };
    impl.drop_behind = std::make_unique<DropBehind>(std::move(hooks));
    impl.context.drop_behind = impl.drop_behind.get();
  }

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
  // Resolved before mounting: afterwards the path ends in the mount, which serves nothing
  // until the loop runs.
  // "/dev/fd/N" (a FUSE fd the caller mounted, as CSI drivers do) resolves to /dev/fuse,
  // not to the mount: without its path, readiness does not wait for INIT and the readahead
  // stays the caller's.
  bool fd_mount = options.mountpoint.rfind("/dev/fd/", 0) == 0;
  char real[PATH_MAX];
  if (!fd_mount && realpath(options.mountpoint.c_str(), real) != nullptr) {
    impl.real_mountpoint = real;
  }
  if (fuse_session_mount(impl.session, options.mountpoint.c_str()) != 0) {
    return Status(Code::kIo, "cannot mount at " + options.mountpoint +
                                 ": FUSE refused (is /dev/fuse usable, and for other users is "
                                 "user_allow_other set in /etc/fuse.conf?)");
  }
  impl.mounted = true;
  impl.mountpoint = options.mountpoint;
  impl.watcher = std::make_unique<SignalWatcher>(impl.mountpoint, impl.session);
  return s;
}

FuseSession::~FuseSession() = default;

Status FuseSession::Run(std::function<void()> on_ready) {
  // `on_ready` runs once the kernel has taken the INIT reply: a stat() of the mount root
  // returns only then (the kernel holds every request until INIT is done). The readahead
  // is raised at that point, before anyone is told the mount is ready, because the kernel
  // copies a BDI's readahead into each file when it is opened. The thread is detached: if
  // the loop below ends before the stat is answered, `cancelled` keeps it from calling
  // back into a caller that has returned.
  struct Gate {
    std::mutex mu;
    bool cancelled = false;
  };
  auto gate = std::make_shared<Gate>();
  std::thread([gate, impl = impl_.get(), mp = impl_->real_mountpoint,
               on_ready = std::move(on_ready)] {
    struct stat st {};
    bool up = !mp.empty() && stat(mp.c_str(), &st) == 0;
    std::lock_guard l(gate->mu);
    if (gate->cancelled) return;
    if (up) {
      SetKernelReadahead(mp);
      impl->device = st.st_dev;
    }
    if (on_ready) on_ready();
  }).detach();
  static_assert(FUSE_USE_VERSION >= 312, "the 3.2 loop misreads fuse_loop_cfg_create()'s config");
  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(config, static_cast<unsigned>(impl_->max_threads));
  fuse_loop_cfg_set_idle_threads(config, static_cast<unsigned>(impl_->max_threads));
  int rc = fuse_session_loop_mt(impl_->session, config);
  fuse_loop_cfg_destroy(config);
  {
    std::lock_guard l(gate->mu);
    gate->cancelled = true;
  }
  if (rc != 0 && rc != SIGINT && rc != SIGTERM && rc != SIGHUP) {
    return Status(Code::kIo, std::string("FUSE loop failed: ") + std::strerror(rc < 0 ? -rc : rc));
  }
  return Status::Ok();
}

void FuseSession::Unmount() {
  if (!impl_->mounted) return;
  fuse_session_unmount(impl_->session);
  impl_->mounted = false;
}

}  // namespace s3m
