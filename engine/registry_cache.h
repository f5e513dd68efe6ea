// A backend's registry as last read, kept in memory while nothing says it changed, so the reads
// dockerd makes all the time (List, Get, Path) need no round trip.
//
// Coherence: the backend invalidates the copy when its watch reports another writer's change
// (or is lost), and applies its own writes as it makes them. A copy older than the bound is
// not used (it is read again), so a change whose notify was lost still shows within the bound.
// Every invalidation or write bumps a generation; a read that began before one is not kept,
// so a slow read never puts back what a later change replaced.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/volume_record.h"

namespace berth::engine {

class RegistryCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RegistryCache(std::chrono::milliseconds bound) : bound_(bound) {}

  // The generation to pass to Fill; take it before reading the registry.
  uint64_t generation() const;
  // Keeps `records` (every entry, as read) unless something changed since `generation`.
  void Fill(uint64_t generation, const std::vector<VolumeRecord>& records,
            Clock::time_point now = Clock::now());
  // The copy, while it is valid and younger than the bound; nullopt means read through.
  // Null means read through. The vector is shared and never changed: a change makes a new one.
  std::shared_ptr<const std::vector<VolumeRecord>> List(Clock::time_point now = Clock::now()) const;
  // Whether List and Lookup answer from the copy now.
  bool Fresh(Clock::time_point now = Clock::now()) const;
  // One entry of a valid copy: nullopt means read through (invalid, or not in it: a name the
  // copy lacks may have just been created elsewhere, and a miss is rare).
  std::optional<VolumeRecord> Lookup(const std::string& name,
                                     Clock::time_point now = Clock::now()) const;

  // Another writer's change, or the watch is gone: read through until the next Fill.
  void Invalidate();
  // This process's own writes, as made (a valid copy stays valid).
  void Put(const VolumeRecord& record);
  void Erase(const std::string& name);

 private:
  bool Usable(Clock::time_point now) const { return valid_ && now - filled_at_ < bound_; }

  const std::chrono::milliseconds bound_;
  mutable std::mutex mu_;
  uint64_t generation_ = 0;
  bool valid_ = false;
  Clock::time_point filled_at_;
  std::map<std::string, VolumeRecord> records_;
  // records_ as List hands it out, made on the first List after a change.
  mutable std::shared_ptr<const std::vector<VolumeRecord>> listed_;
};

}  // namespace berth::engine
