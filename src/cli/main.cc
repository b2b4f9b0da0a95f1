// s3mount: mounts an S3 bucket as a local file system. See --help and docs/.
// Every start-up failure is one line on stderr (and in the log once there is one) with exit
// status 1 or 2: nothing throws out of main().
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include "cli/compat_checks.h"
#include "cli/config.h"
#include "cli/daemon.h"
#include "cli/mount_app.h"
#include "cli/startup_checks.h"
#include "common/log.h"
#include "fuse/fuse_adapter.h"

namespace s3m {
namespace {

// "/dev/fd/N" (compat_checks.h): the caller opened /dev/fuse as N and mounted it; N must be
// open here, as a character device.
Status CheckFuseFd(const std::string& path) {
  int fd = FuseFdFromPath(path);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) {
    return Status(Code::kInvalidArgument,
                  path +
                      " is not an open FUSE file descriptor: the caller must open /dev/fuse, "
                      "mount it, and pass the descriptor to s3mount");
  }
  return Status::Ok();
}

// --bind names must exist now: a typo would otherwise fail every request.
Status CheckInterfaces(const Config& c) {
  for (const std::string& name : c.bind) {
    if (if_nametoindex(name.c_str()) == 0) {
      return Status(Code::kNotFound,
                    "--bind " + name + ": no such network interface (see 'ip link')");
    }
  }
  return Status::Ok();
}

// Checked before detaching, so that these errors come back at once. Returns the exit code,
// 0 to go on.
int Preflight(Config& c) {
  GetEnvFn env = ProcessEnv();
  // Bad values (exit 2) before the state of the machine (exit 1).
  for (const Status& s : {MakePathsAbsolute(c), CheckEnvironment(env), CheckCaBundle(c, env),
                          CheckCacheDirectory(c), CheckStagingDirectory(c, env)}) {
    if (!s.ok()) {
      std::fprintf(stderr, "s3mount: %s\n", s.message().c_str());
      return s.code() == Code::kInvalidArgument ? 2 : 1;
    }
  }
  if (c.MountsFd()) {
    if (Status s = CheckFuseFd(c.mountpoint); !s.ok()) {
      std::fprintf(stderr, "s3mount: %s\n", s.message().c_str());
      return 2;
    }
  }
  for (const Status& s :
       {c.MountsFd() ? Status::Ok() : CheckMountDirectory(c.mountpoint), CheckFuseAvailable(),
        CheckInterfaces(c),
        c.log_directory.empty() ? Status::Ok() : CheckLogDirectory(c.log_directory)}) {
    if (!s.ok()) {
      std::fprintf(stderr, "s3mount: %s\n", s.message().c_str());
      return 1;
    }
  }
  return 0;
}

int Serve(const Config& c) {
  StartupReporter reporter =
      c.foreground ? StartupReporter::Foreground() : StartupReporter::Detach();
  try {
    BlockTerminationSignals();  // before any thread starts: the session's watcher takes them
    LogTarget target = !c.log_directory.empty() ? LogTarget::kDirectory
                       : c.foreground           ? LogTarget::kStderr
                                                : LogTarget::kSyslog;
    InitLogging(target, c.log_directory, c.debug);
    if (c.no_log) spdlog::set_level(spdlog::level::off);
    reporter.LogFailures(target != LogTarget::kStderr);
    return RunMount(c, reporter);
  } catch (const std::exception& e) {
    // A bug or an exhausted resource; still one line to whoever waits for the mount.
    reporter.Failed(std::string("unexpected error: ") + e.what());
    return 1;
  }
}

int Main(int argc, char** argv) {
  ParsedCommandLine parsed = ParseCommandLine(argc, argv);
  if (!parsed.run) {
    std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  if (int code = Preflight(parsed.config); code != 0) return code;
  return Serve(parsed.config);
}

}  // namespace
}  // namespace s3m

int main(int argc, char** argv) {
  try {
    return s3m::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "s3mount: unexpected error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "s3mount: unexpected error\n");
  }
  return 1;
}
