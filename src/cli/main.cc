// s3mount: mounts an S3 bucket as a local file system. See --help and docs/.
#include <cstdio>

#include "cli/config.h"
#include "cli/daemon.h"
#include "cli/mount_app.h"
#include "common/log.h"
#include "fuse/fuse_adapter.h"

int main(int argc, char** argv) {
  using namespace s3m;
  ParsedCommandLine parsed = ParseCommandLine(argc, argv);
  if (!parsed.run) {
    std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  const Config& c = parsed.config;
  // Checked before detaching, so that these errors come back at once.
  for (const Status& s : {CheckMountDirectory(c.mountpoint), CheckFuseAvailable()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "s3mount: %s\n", s.message().c_str());
      return 1;
    }
  }
  StartupReporter reporter =
      c.foreground ? StartupReporter::Foreground() : StartupReporter::Detach();
  BlockTerminationSignals();  // before any thread starts: the session's watcher takes them
  LogTarget target = !c.log_directory.empty() ? LogTarget::kDirectory
                     : c.foreground           ? LogTarget::kStderr
                                              : LogTarget::kSyslog;
  InitLogging(target, c.log_directory, c.debug);
  return RunMount(c, reporter);
}
