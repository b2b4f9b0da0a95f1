#include "cli/daemon.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/log.h"

namespace s3m {
namespace {

// The first byte a child writes: success, or a failure whose message follows.
constexpr char kReadyByte = 'R';
constexpr char kFailedByte = 'F';

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

[[noreturn]] void WaitForChild(int fd, pid_t child) {
  std::string report;
  char buf[512];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  if (!report.empty() && report[0] == kReadyByte) _exit(0);
  if (!report.empty() && report[0] == kFailedByte) {
    std::fprintf(stderr, "s3mount: %s\n", report.c_str() + 1);
  } else {
    int status = 0;
    waitpid(child, &status, 0);
    std::fprintf(stderr,
                 "s3mount: the daemon exited before the file system was mounted (status %d); "
                 "run with -f to see why\n",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  _exit(1);
}

}  // namespace

StartupReporter StartupReporter::Detach() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("s3mount: pipe");
    std::exit(1);
  }
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("s3mount: fork");
    std::exit(1);
  }
  if (pid > 0) {
    close(fds[1]);
    WaitForChild(fds[0], pid);
  }
  close(fds[0]);
  setsid();
  if (chdir("/") != 0) {
    // Not fatal: the daemon only uses absolute paths.
  }
  StartupReporter r;
  r.fd_ = fds[1];
  return r;
}

StartupReporter StartupReporter::Foreground() {
  return StartupReporter();
}

void StartupReporter::Ready() {
  NotifySystemd("READY=1\nMAINPID=" + std::to_string(getpid()));
  if (fd_ < 0) return;
  WriteAll(fd_, std::string(1, kReadyByte));
  close(fd_);
  fd_ = -1;
  // The terminal is no longer ours: logs go to syslog or the log directory from now on.
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
  }
}

void StartupReporter::Failed(const std::string& message) {
  if (log_failures_) S3M_ERROR("{}", message);
  if (fd_ < 0) {
    std::fprintf(stderr, "s3mount: %s\n", message.c_str());
    return;
  }
  WriteAll(fd_, std::string(1, kFailedByte) + message);
  close(fd_);
  fd_ = -1;
}

void NotifySystemd(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(path);
  if (len >= sizeof(addr.sun_path)) return;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  close(fd);
}

Status CheckMountDirectory(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    if (errno == ENOTCONN) {
      return Status(Code::kBusy, "mount directory " + dir +
                                     " is a dead mount: unmount it first (fusermount3 -u " + dir +
                                     ")");
    }
    return Status(Code::kNotFound, "mount directory " + dir +
                                       " does not exist: create it first (mkdir -p " + dir + ")");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status(Code::kNotDirectory, "mount point " + dir + " is not a directory");
  }
  char real[PATH_MAX];
  if (realpath(dir.c_str(), real) == nullptr) return Status(Code::kIo, "cannot resolve " + dir);
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point == real) {
      return Status(Code::kBusy, std::string("mount point ") + real +
                                     " is already mounted: unmount it first or choose another "
                                     "directory");
    }
  }
  return Status::Ok();
}

Status CheckFuseAvailable() {
  if (access("/dev/fuse", R_OK | W_OK) != 0) {
    return Status(Code::kNotSupported,
                  "FUSE is not available (/dev/fuse: " + std::string(std::strerror(errno)) +
                      "): load the module with 'modprobe fuse', or in a container pass "
                      "--device /dev/fuse");
  }
  return Status::Ok();
}

}  // namespace s3m
