// berth-test-watchdog: runs one test and fails it fast, with the evidence, when a process is
// wedged in the kernel. ctest would otherwise wait for its 600 s timeout and print nothing useful,
// and a process in D state cannot be killed anyway.
//
//   berth-test-watchdog [--bound SECONDS] [--] COMMAND [ARGS...]
//
// The command runs in a process group of its own, its stdout and stderr relayed through a pipe
// (so stuck processes never hold ctest's). Once a second the watchdog samples every process; when
// any user-space process has stayed in D state for --bound seconds ($BERTH_TEST_WATCHDOG_SECONDS,
// default 90) without running or waking once, it prints every blocked process's kernel stack and
// wait channel, the FUSE connections with requests waiting, and mountinfo, kills the test's
// process group and exits 124. Nothing legitimate on these machines stays blocked that long
// without a single wake-up, so a wedge anywhere fails the test that is running into it.
// Otherwise it exits as the command did (128 + N for a signal).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/fd.h"
#include "tests/support/watchdog/blocked_processes.h"

namespace {

using berth::testing::BlockedTracker;
using Clock = BlockedTracker::Clock;

pid_t g_child = -1;

void ForwardSignal(int signal) {
  if (g_child > 0) {
    ::kill(-g_child, signal);
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// Relays what the pipe holds now; false once it is at end of file.
bool Relay(int fd) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      WriteAll(STDOUT_FILENO, buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return n < 0 && errno == EAGAIN;
  }
}

void Report(const std::vector<std::pair<berth::testing::ProcStat, Clock::duration>>& stuck,
            const std::vector<berth::testing::ProcessSample>& samples, pid_t child, int bound) {
  const auto tree = berth::testing::Descendants(samples, child);
  const auto in_tree = [&](pid_t pid) {
    return std::find(tree.begin(), tree.end(), pid) != tree.end();
  };
  std::ostringstream out;
  for (const auto& [stat, for_how_long] : stuck) {
    out << "\nwatchdog: pid " << stat.pid << " (" << stat.comm << ")"
        << (in_tree(stat.pid) ? ", in this test's process tree," : ", outside this test,")
        << " has been in D state for "
        << std::chrono::duration_cast<std::chrono::seconds>(for_how_long).count()
        << " s without progress (bound " << bound << " s): failing the test\n";
  }
  out << "watchdog: every process in D state now (pid, ppid, comm, wchan, stack):\n";
  for (const auto& sample : samples) {
    if (sample.stat.state != 'D') {
      continue;
    }
    const std::string base = "/proc/" + std::to_string(sample.stat.pid);
    std::string cmdline = ReadAll(base + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    out << "--- pid " << sample.stat.pid << " ppid " << sample.stat.ppid << " (" << sample.stat.comm
        << ")" << (in_tree(sample.stat.pid) ? " [test]" : "") << " wchan "
        << ReadAll(base + "/wchan") << "\n    cmdline: " << cmdline << "\n    stack:\n"
        << ReadAll(base + "/stack");
  }
  out << "watchdog: FUSE connections with requests waiting (/sys/fs/fuse/connections):";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/fuse/connections", ec)) {
    const std::string waiting = ReadAll(entry.path().string() + "/waiting");
    if (!waiting.empty() && waiting != "0\n") {
      out << " " << entry.path().filename().string() << ":"
          << waiting.substr(0, waiting.size() - 1);
    }
  }
  out << "\nwatchdog: mountinfo:\n" << ReadAll("/proc/self/mountinfo");
  const std::string text = out.str();
  WriteAll(STDOUT_FILENO, text.data(), text.size());
}

int Usage() {
  std::fprintf(stderr, "usage: berth-test-watchdog [--bound SECONDS] [--] COMMAND [ARGS...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int bound = 90;
  if (const char* env = std::getenv("BERTH_TEST_WATCHDOG_SECONDS"); env != nullptr && *env) {
    bound = std::atoi(env);
  }
  int arg = 1;
  if (arg + 1 < argc && std::strcmp(argv[arg], "--bound") == 0) {
    bound = std::atoi(argv[arg + 1]);
    arg += 2;
  }
  if (arg < argc && std::strcmp(argv[arg], "--") == 0) {
    ++arg;
  }
  if (arg >= argc || bound <= 0) {
    return Usage();
  }

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    std::perror("berth-test-watchdog: pipe");
    return 1;
  }
  const pid_t parent = ::getpid();
  g_child = ::fork();
  if (g_child < 0) {
    std::perror("berth-test-watchdog: fork");
    return 1;
  }
  if (g_child == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a watchdog killed by ctest takes the test with it
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::execvp(argv[arg], argv + arg);
    std::fprintf(stderr, "berth-test-watchdog: cannot run %s: %s\n", argv[arg],
                 std::strerror(errno));
    ::_exit(127);
  }
  ::setpgid(g_child, g_child);
  ::close(pipe_fds[1]);
  const berth::UniqueFd output(pipe_fds[0]);
  const int out = output.get();
  ::fcntl(out, F_SETFL, ::fcntl(out, F_GETFL) | O_NONBLOCK);
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) {
    ::signal(signal, ForwardSignal);
  }

  // Readable once the command exits: the loop wakes at once for that, not at the next sample.
  const berth::UniqueFd exited_fd(static_cast<int>(::syscall(SYS_pidfd_open, g_child, 0)));
  const int exited = exited_fd.get();
  BlockedTracker tracker;
  bool open = true;
  auto next_sample = Clock::now();
  for (;;) {
    pollfd fds[2] = {{open ? out : -1, POLLIN, 0}, {exited, POLLIN, 0}};
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_sample - Clock::now());
    if (::poll(fds, 2, std::max<int>(0, static_cast<int>(wait.count()))) > 0 &&
        (fds[0].revents & (POLLIN | POLLHUP)) != 0) {
      open = Relay(out);
    }
    int status = 0;
    if (::waitpid(g_child, &status, WNOHANG) == g_child) {
      if (open) {
        Relay(out);  // what it wrote last; never wait for processes it left behind
      }
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    const auto now = Clock::now();
    if (now < next_sample) {
      continue;
    }
    next_sample = now + std::chrono::seconds(1);
    const auto samples = berth::testing::SampleProcesses();
    tracker.Update(samples, now);
    const auto stuck = tracker.StuckFor(std::chrono::seconds(bound), now);
    if (!stuck.empty()) {
      if (open) {
        Relay(out);
      }
      Report(stuck, samples, g_child, bound);
      ::kill(-g_child, SIGKILL);
      return 124;
    }
  }
}
