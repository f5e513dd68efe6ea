#include "common/signals.h"

#include <pthread.h>

#include <initializer_list>

namespace berth {

ScopedSignalBlock::ScopedSignalBlock() {
  sigset_t block;
  sigemptyset(&block);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    sigaddset(&block, sig);
  }
  pthread_sigmask(SIG_BLOCK, &block, &old_);
}

ScopedSignalBlock::~ScopedSignalBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

}  // namespace berth
