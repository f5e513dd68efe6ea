// Holding off termination signals for a short critical section (a frozen filesystem must be
// thawed before the process may die).
#pragma once

#include <signal.h>

namespace berth {

// Blocks SIGINT, SIGTERM, SIGHUP and SIGQUIT in this thread until destruction; signals that
// arrived meanwhile are delivered then.
class ScopedSignalBlock {
 public:
  ScopedSignalBlock();
  ~ScopedSignalBlock();
  ScopedSignalBlock(const ScopedSignalBlock&) = delete;
  ScopedSignalBlock& operator=(const ScopedSignalBlock&) = delete;

 private:
  sigset_t old_{};
};

}  // namespace berth
