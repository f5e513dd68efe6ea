// RbdBackend::Guarded, for the files of engine/rbd/ only: every backend call runs through it.
#pragma once

#include "common/error.h"
#include "engine/rbd/rbd_backend.h"

namespace berth::engine {

template <typename Fn>
auto RbdBackend::Guarded(Retry retry, Fn&& fn) -> decltype(fn()) {
  if (pinned_.backend == this) {
    return fn();  // called by another backend call, which handles a fence
  }
  // Another backend's call may have made this one: its pin is restored, not dropped.
  struct Restore {
    Pinned saved = pinned_;
    ~Restore() { pinned_ = std::move(saved); }
  };
  for (int attempt = 0;; ++attempt) {
    Restore restore;
    pinned_.connection = CurrentConnection();
    pinned_.backend = this;
    try {
      return fn();
    } catch (const Error& e) {
      if (e.system_errno() != ESHUTDOWN) {  // Ceph's EBLOCKLISTED
        throw;
      }
      ReplaceFencedConnection(pinned_.connection);
      if (retry == Retry::kNo || attempt > 0) {
        throw Error(ErrorCode::kUnavailable,
                    std::string(e.what()) +
                        " (this host's Ceph client was fenced; berth has dropped it and "
                        "connects a new one: retry)");
      }
    }
  }
}

}  // namespace berth::engine
