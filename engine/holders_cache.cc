#include "engine/holders_cache.h"

namespace berth::engine {

uint64_t HoldersCache::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void HoldersCache::Fill(uint64_t generation, const std::string& volume,
                        std::vector<HolderInfo> holders, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (all_changed_at_ > generation) {
    return;
  }
  auto& entry = entries_[volume];
  if (entry.changed_at > generation) {
    return;  // its lock changed while it was read: the next read fills it
  }
  entry.holders = std::move(holders);
  entry.filled_at = now;
}

std::optional<std::vector<HolderInfo>> HoldersCache::Lookup(const std::string& volume,
                                                            Clock::time_point now) const {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(volume);
  if (it == entries_.end() || !it->second.holders || now - it->second.filled_at >= bound_) {
    return std::nullopt;
  }
  return it->second.holders;
}

bool HoldersCache::NoteMiss(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (misses_ == 0 || now - first_miss_ >= bound_) {
    misses_ = 0;
    first_miss_ = now;
  }
  if (++misses_ < scan_misses_) {
    return false;
  }
  misses_ = 0;
  return true;
}

void HoldersCache::Invalidate(const std::string& volume) {
  std::lock_guard lock(mu_);
  auto& entry = entries_[volume];
  entry.holders.reset();
  entry.changed_at = ++generation_;
}

void HoldersCache::InvalidateAll() {
  std::lock_guard lock(mu_);
  entries_.clear();
  all_changed_at_ = ++generation_;
}

}  // namespace berth::engine
