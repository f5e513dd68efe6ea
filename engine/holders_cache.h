// The lock holders of a backend's volumes as last read, kept beside the registry's copy
// (engine/registry_cache.h) so a Get needs no round trip to say who holds a volume.
//
// Coherence: whoever changes a volume's lock notifies the registry's watchers naming the
// volume, and its entry is invalidated; a lost watch invalidates every entry. An entry older
// than the bound is not used, so a change whose notify was lost shows within the bound. A read
// that began before its volume's entry (or every entry) was invalidated is not kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/backend.h"

namespace berth::engine {

class HoldersCache {
 public:
  using Clock = std::chrono::steady_clock;
  // `scan_misses` misses within one bound make a scan (see NoteMiss).
  HoldersCache(std::chrono::milliseconds bound, int scan_misses)
      : bound_(bound), scan_misses_(scan_misses) {}

  // The generation to pass to Fill; take it before reading the lock.
  uint64_t generation() const;
  // Keeps `holders` of `volume` unless its entry (or every entry) changed since `generation`.
  void Fill(uint64_t generation, const std::string& volume, std::vector<HolderInfo> holders,
            Clock::time_point now = Clock::now());
  // The holders of `volume` while its entry is valid and younger than the bound; nullopt means
  // read through.
  std::optional<std::vector<HolderInfo>> Lookup(const std::string& volume,
                                                Clock::time_point now = Clock::now()) const;
  // Counts a read through. True once `scan_misses` of them fell within one bound: someone reads
  // every volume in turn (`docker volume inspect` of each, a monitor), and one bulk read of
  // every lock serves that better than a round trip per Get. Counting starts again after.
  bool NoteMiss(Clock::time_point now = Clock::now());

  // The volume's lock changed (here or on another host).
  void Invalidate(const std::string& volume);
  // The watch is gone: every entry.
  void InvalidateAll();

 private:
  struct Entry {
    std::optional<std::vector<HolderInfo>> holders;
    Clock::time_point filled_at;
    uint64_t changed_at = 0;  // the generation of its last invalidation
  };

  const std::chrono::milliseconds bound_;
  const int scan_misses_;
  mutable std::mutex mu_;
  uint64_t generation_ = 0;
  uint64_t all_changed_at_ = 0;
  std::map<std::string, Entry> entries_;
  int misses_ = 0;
  Clock::time_point first_miss_;
};

}  // namespace berth::engine
