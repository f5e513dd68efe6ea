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
// /dev/null and stdout and stderr appended to `log_path`, and outside the caller's cgroup
// (common/helper_cgroup.h). Returns the detached process's pid. Restarting the caller, or the
// service it runs in, never signals it: mapper and mounter processes outlive berthd and kubelet.
pid_t SpawnDetached(const std::vector<std::string>& argv, const std::string& log_path);

// True while `pid` names a live process (a zombie counts as gone).
bool ProcessAlive(pid_t pid);

// The arguments `pid` runs with (argv[0] first), from /proc; empty once it is gone.
std::vector<std::string> ProcessArgv(pid_t pid);

// Pids are recycled: a recorded pid is still ours only while it is alive and its argv[0] has
// the base name `program` ("rbd-fuse", "berth-nfs-fuse").
bool ProcessRuns(pid_t pid, const std::string& program);

// ProcessRuns, and one of its arguments (after argv[0]) is exactly `argument`: a helper's own
// mount point or log, which tells it from the same program serving another volume.
bool ProcessRunsWith(pid_t pid, const std::string& program, const std::string& argument);

// Waits up to `grace` for a detached helper (whose mount is already gone) to exit on its own;
// then SIGTERM, and SIGKILL half a second later. Signals nothing unless `pid` still runs
// `program` with `argument` (ProcessRunsWith), checked again before each signal.
void StopDetached(pid_t pid, const std::string& program, const std::string& argument,
                  std::chrono::milliseconds grace);

// The last `bytes` of a log file, for error messages; empty if it cannot be read.
std::string FileTail(const std::string& path, size_t bytes = 600);

// argv joined for logs and error messages.
std::string JoinCommand(const std::vector<std::string>& argv);

}  // namespace berth
