// A process that blocks in the kernel on purpose, for the watchdog's own test: the parent of a
// vfork waits in uninterruptible (killable) sleep, state D, until its child execs or exits, and
// this child only pauses. SIGKILL to the process group ends both.
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstdio>

namespace {

int PauseForever(void* /*unused*/) {
  for (;;) {
    ::pause();
  }
}

}  // namespace

int main() {
  static std::array<char, 64 * 1024> stack;
  std::printf("vfork_blocker: pid %d blocks in D state now\n", static_cast<int>(::getpid()));
  std::fflush(stdout);
  if (::clone(PauseForever, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD,
              nullptr) < 0) {
    std::perror("vfork_blocker: clone");
    return 1;
  }
  return 0;
}
