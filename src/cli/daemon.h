// Start-up plumbing for the mount daemon: detaching with a readiness pipe (the parent
// exits only when the child says the file system is mounted, or with its one-line
// error), systemd's READY=1, and pre-mount checks of the mount directory.
// Called from main() only, before any other thread exists.
#pragma once

#include <string>

#include "common/status.h"

namespace s3m {

// Reports the outcome of start-up to whoever waits for it: the parent process (after
// Detach) or the terminal and systemd (in the foreground).
class StartupReporter {
 public:
  // Forks. In the parent, waits for the child's report, prints any error and exits;
  // only the child returns (in a new session, working directory "/").
  static StartupReporter Detach();
  static StartupReporter Foreground();

  void Ready();                             // mounted: release the parent, notify systemd
  void Failed(const std::string& message);  // one line, without the "s3mount: " prefix
  // Failed() also logs, once logs go somewhere other than the terminal it prints to.
  void LogFailures(bool on) { log_failures_ = on; }

 private:
  int fd_ = -1;  // the pipe to the parent, or -1 in the foreground
  bool log_failures_ = false;
};

// Sends a state string ("READY=1", "STOPPING=1") to $NOTIFY_SOCKET if set.
void NotifySystemd(const std::string& state);

// The mount directory must exist, be a directory and not already be a mount point.
Status CheckMountDirectory(const std::string& dir);

// /dev/fuse must be there and usable.
Status CheckFuseAvailable();

}  // namespace s3m
