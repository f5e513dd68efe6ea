#include "common/subprocess.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "common/helper_cgroup.h"

namespace berth {

namespace {

std::vector<char*> CArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  out.reserve(argv.size() + 1);
  for (const auto& a : argv) {
    out.push_back(const_cast<char*>(a.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

void MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    throw ErrnoError(-errno, "cannot create a pipe");
  }
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
}

// A child must hold nothing of ours: an inherited listening socket kept berthd's plugin socket
// "served" by its rbd-fuse children after berthd died, so the next berthd refused to start and
// dockerd's calls hung. Not every fd berth's libraries open is close-on-exec.
void CloseInheritedFds() { ::close_range(3, ~0U, 0); }

// Moves the calling process into each cgroup whose cgroup.procs is listed. Between fork and exec,
// so only system calls: no allocation, no locks.
void MoveSelfIntoCgroups(const std::vector<std::string>& procs_files) {
  char digits[16];
  size_t at = sizeof(digits);
  for (pid_t pid = ::getpid(); pid > 0 && at > 0; pid /= 10) {
    digits[--at] = static_cast<char>('0' + pid % 10);
  }
  for (const auto& file : procs_files) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)!::write(fd, digits + at, sizeof(digits) - at);
      ::close(fd);
    }
  }
}

// posix_spawn's file actions and attributes, destroyed with the scope.
struct SpawnFileActions {
  posix_spawn_file_actions_t actions{};
  SpawnFileActions() { ::posix_spawn_file_actions_init(&actions); }
  ~SpawnFileActions() { ::posix_spawn_file_actions_destroy(&actions); }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
};
struct SpawnAttributes {
  posix_spawnattr_t attributes{};
  SpawnAttributes() { ::posix_spawnattr_init(&attributes); }
  ~SpawnAttributes() { ::posix_spawnattr_destroy(&attributes); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

// Starts argv[0] (looked up in PATH) with stdin on /dev/null, stdout and stderr on the given
// fds, no other fd of ours, and every signal at its default and unblocked (an ignored SIGPIPE
// or a thread's blocked mask would otherwise survive exec). posix_spawn shares our memory until
// the exec (CLONE_VM | CLONE_VFORK): no copy of berthd's page tables, and no copy-on-write
// faults in its other threads afterwards, as a fork of a process with librados' threads costs.
pid_t SpawnCaptured(char* const* argv, int out_fd, int err_fd) {
  SpawnFileActions files;
  SpawnAttributes attributes;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  int r =
      ::posix_spawn_file_actions_addopen(&files.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (r == 0) {
    r = ::posix_spawn_file_actions_adddup2(&files.actions, out_fd, STDOUT_FILENO);
  }
  if (r == 0) {
    r = ::posix_spawn_file_actions_adddup2(&files.actions, err_fd, STDERR_FILENO);
  }
  if (r == 0) {
    // See CloseInheritedFds.
    r = ::posix_spawn_file_actions_addclosefrom_np(&files.actions, STDERR_FILENO + 1);
  }
  if (r == 0) {
    r = ::posix_spawnattr_setsigmask(&attributes.attributes, &none);
  }
  if (r == 0) {
    r = ::posix_spawnattr_setsigdefault(&attributes.attributes, &all);
  }
  if (r == 0) {
    r = ::posix_spawnattr_setflags(&attributes.attributes,
                                   POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  if (r != 0) {
    throw ErrnoError(-r, std::string("cannot prepare to start ") + argv[0]);
  }
  pid_t pid = -1;
  r = ::posix_spawnp(&pid, argv[0], &files.actions, &attributes.attributes, argv, environ);
  if (r == ENOENT || r == ENOTDIR) {
    throw Error(ErrorCode::kUnavailable, std::string("cannot run ") + argv[0] +
                                             ": not installed or not in PATH (" + std::strerror(r) +
                                             ")");
  }
  if (r == EACCES || r == ENOEXEC) {
    throw Error(ErrorCode::kUnavailable, std::string("cannot run ") + argv[0] +
                                             ": not an executable program (" + std::strerror(r) +
                                             ")");
  }
  if (r != 0) {
    throw ErrnoError(-r, std::string("cannot start ") + argv[0]);
  }
  return pid;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

}  // namespace

std::string JoinCommand(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) {
      out += ' ';
    }
    out += a;
  }
  return out;
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (argv.empty()) {
    throw Error(ErrorCode::kInternal, "RunCommand: empty argv");
  }
  UniqueFd out_r, out_w, err_r, err_w;
  MakePipe(out_r, out_w);
  MakePipe(err_r, err_w);
  auto c_argv = CArgv(argv);
  const pid_t pid = SpawnCaptured(c_argv.data(), out_w.get(), err_w.get());
  out_w.Reset();
  err_w.Reset();

  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  std::array<pollfd, 2> fds{{{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}}};
  int open_fds = 2;
  std::array<char, 8192> buf{};
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      break;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      ssize_t got = ::read(fds[i].fd, buf.data(), buf.size());
      if (got > 0) {
        (i == 0 ? result.out : result.err).append(buf.data(), static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = DecodeStatus(status);
  if (timed_out) {
    throw Error(ErrorCode::kDeadlineExceeded, JoinCommand(argv) + " did not finish within " +
                                                  std::to_string(timeout.count() / 1000) +
                                                  " s and was killed");
  }
  return result;
}

namespace {

// SpawnDetached's two children share the caller's memory (CLONE_VM) while the calling thread
// waits (CLONE_VFORK), as posix_spawn's does: nothing is copied, where two forks of berthd (its
// librados threads and memory) cost 13-23 ms of page-table copying on the attach path. They run
// system calls only, on stacks of their own: no allocation, no locks.
constexpr size_t kSpawnStackBytes = size_t{64} * 1024;

struct DetachedSpawn {
  char* const* argv;
  const std::vector<std::string>* cgroups;
  int stdin_fd;
  int output_fd;
  char* program_stack;    // its top
  pid_t grandchild = -1;  // set by the session leader: the program's pid
};

// The program: out of the starter's cgroup, stdio set, and nothing of the server's signal
// handling kept (handlers, ignored signals, the blocked mask).
int ExecProgram(void* arg) {
  const auto* spawn = static_cast<const DetachedSpawn*>(arg);
  MoveSelfIntoCgroups(*spawn->cgroups);  // common/helper_cgroup.h
  ::dup2(spawn->stdin_fd, STDIN_FILENO);
  ::dup2(spawn->output_fd, STDOUT_FILENO);
  ::dup2(spawn->output_fd, STDERR_FILENO);
  CloseInheritedFds();
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    ::sigaction(sig, &default_action, nullptr);  // SIGKILL and SIGSTOP refuse: fine
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvp(spawn->argv[0], spawn->argv);
  ::_exit(127);
}

// A new session whose leader exits once the program has exec'd: init adopts the program, so
// berthd is never its parent and a restart of berthd's service never signals it.
int StartSession(void* arg) {
  auto* spawn = static_cast<DetachedSpawn*>(arg);
  ::setsid();
  spawn->grandchild =
      ::clone(ExecProgram, spawn->program_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, spawn);
  ::_exit(spawn->grandchild < 0 ? 1 : 0);
}

}  // namespace

pid_t SpawnDetached(const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) {
    throw Error(ErrorCode::kInternal, "SpawnDetached: empty argv");
  }
  auto c_argv = CArgv(argv);
  const std::vector<std::string> cgroups = HelperCgroupProcsFiles();
  const UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  const int out = log.get() >= 0 ? log.get() : devnull.get();
  auto stacks = std::make_unique_for_overwrite<char[]>(2 * kSpawnStackBytes);
  DetachedSpawn spawn{
      c_argv.data(), &cgroups, devnull.get(), out, stacks.get() + 2 * kSpawnStackBytes, -1};
  // Every signal stays blocked in this thread while the children run on its memory, so no
  // handler of berthd's runs on their stacks; the program itself starts with none blocked.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t child = ::clone(StartSession, stacks.get() + kSpawnStackBytes,
                              CLONE_VM | CLONE_VFORK | SIGCHLD, &spawn);
  const int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (child < 0) {
    throw ErrnoError(-clone_errno, "cannot start " + argv[0]);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (spawn.grandchild <= 0) {
    throw Error(ErrorCode::kInternal, "cannot start " + argv[0] + " detached");
  }
  return spawn.grandchild;
}

std::vector<std::string> ProcessArgv(pid_t pid) {
  std::vector<std::string> argv;
  if (pid <= 0) {
    return argv;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  for (std::string arg; std::getline(in, arg, '\0');) {
    argv.push_back(std::move(arg));
  }
  return argv;
}

namespace {

bool ArgvNames(const std::vector<std::string>& argv, const std::string& program) {
  if (argv.empty()) {
    return false;
  }
  const auto slash = argv.front().rfind('/');
  return (slash == std::string::npos ? argv.front() : argv.front().substr(slash + 1)) == program;
}

}  // namespace

bool ProcessRuns(pid_t pid, const std::string& program) {
  return ProcessAlive(pid) && ArgvNames(ProcessArgv(pid), program);
}

bool ProcessRunsWith(pid_t pid, const std::string& program, const std::string& argument) {
  if (!ProcessAlive(pid)) {
    return false;
  }
  const auto argv = ProcessArgv(pid);
  return ArgvNames(argv, program) &&
         std::find(argv.begin() + 1, argv.end(), argument) != argv.end();
}

void StopDetached(pid_t pid, const std::string& program, const std::string& argument,
                  std::chrono::milliseconds grace) {
  // The identity is checked again before each signal: the pid may be recycled meanwhile.
  const auto ours = [&] { return ProcessRunsWith(pid, program, argument); };
  if (!ours()) {
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (ProcessAlive(pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!ours()) {
    return;
  }
  spdlog::warn("{} (pid {}) did not exit after its unmount; terminating it", program, pid);
  ::kill(pid, SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  if (ours()) {
    ::kill(pid, SIGKILL);
  }
}

std::string FileTail(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) {
    return false;
  }
  if (::kill(pid, 0) != 0 && errno == ESRCH) {
    return false;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) {
    return false;
  }
  // The state follows the parenthesised command name, which may itself contain spaces.
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

}  // namespace berth
