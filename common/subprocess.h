// Running the host tools that own a job (mkfs, e2fsck, rbd, rbd-fuse): never through a shell.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace berth {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH) and waits, capturing stdout and stderr. A command that
// outlives `timeout` is killed and reported as an error. Failing to start is an error; a
// non-zero exit is not (the caller decides what an exit code means).
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::minutes(10));

// Starts argv in its own session, detached from this process (double fork), with stdin on
// /dev/null and stdout and stderr appended to `log_path`. Returns the detached process's pid.
// Restarting the caller never signals it: mapper and mounter processes outlive berthd.
pid_t SpawnDetached(const std::vector<std::string>& argv, const std::string& log_path);

// True while `pid` names a live process (a zombie counts as gone).
bool ProcessAlive(pid_t pid);

// argv joined for logs and error messages.
std::string JoinCommand(const std::vector<std::string>& argv);

}  // namespace berth
