// Serializes operations on one volume across every berth process on this host (berthd,
// berth-flex, berthctl) with flock(2) on <state_dir>/locks/<name>.lock.
#pragma once

#include <string>

#include "common/fd.h"

namespace berth::engine {

class VolumeLock {
 public:
  // Blocks until the lock is held. flock locks are per open file, so threads of one process
  // exclude each other as well.
  VolumeLock(const std::string& state_dir, const std::string& volume);
  VolumeLock(const VolumeLock&) = delete;
  VolumeLock& operator=(const VolumeLock&) = delete;
  ~VolumeLock() = default;  // closing the fd releases the lock

 private:
  UniqueFd fd_;
};

}  // namespace berth::engine
