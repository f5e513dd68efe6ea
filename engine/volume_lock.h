// Serializes operations on one volume across every berth process on this host (berthd,
// berth-flex, berthctl) with flock(2) on <state_dir>/locks/<name>.lock. The holder writes what
// it is doing into the file, so that a request that waited too long is told what it waited on.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/fd.h"

namespace berth::engine {

class VolumeLock {
 public:
  // Waits up to `wait` for the lock, then throws kBusy naming the operation in flight, its
  // process and since when. flock locks are per open file, so threads of one process exclude
  // each other as well.
  VolumeLock(const std::string& state_dir, const std::string& volume, std::string_view operation,
             std::chrono::milliseconds wait);
  VolumeLock(const VolumeLock&) = delete;
  VolumeLock& operator=(const VolumeLock&) = delete;
  ~VolumeLock();  // clears the record; closing the fd releases the lock

 private:
  UniqueFd fd_;
};

}  // namespace berth::engine
