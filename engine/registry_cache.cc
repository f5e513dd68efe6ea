#include "engine/registry_cache.h"

namespace berth::engine {

uint64_t RegistryCache::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void RegistryCache::Fill(uint64_t generation, const std::vector<VolumeRecord>& records,
                         Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (generation != generation_) {
    return;  // changed while it was read: the next read fills it
  }
  records_.clear();
  for (const auto& record : records) {
    records_.emplace(record.spec.name, record);
  }
  listed_.reset();
  valid_ = true;
  filled_at_ = now;
}

std::shared_ptr<const std::vector<VolumeRecord>> RegistryCache::List(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  if (!Usable(now)) {
    return nullptr;
  }
  if (!listed_) {
    std::vector<VolumeRecord> records;
    records.reserve(records_.size());
    for (const auto& [name, record] : records_) {
      records.push_back(record);
    }
    listed_ = std::make_shared<const std::vector<VolumeRecord>>(std::move(records));
  }
  return listed_;
}

bool RegistryCache::Fresh(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  return Usable(now);
}

std::optional<VolumeRecord> RegistryCache::Lookup(const std::string& name,
                                                  Clock::time_point now) const {
  std::lock_guard lock(mu_);
  if (!Usable(now)) {
    return std::nullopt;
  }
  auto it = records_.find(name);
  if (it == records_.end()) {
    return std::nullopt;
  }
  return it->second;
}

void RegistryCache::Invalidate() {
  std::lock_guard lock(mu_);
  ++generation_;
  valid_ = false;
}

void RegistryCache::Put(const VolumeRecord& record) {
  std::lock_guard lock(mu_);
  ++generation_;
  if (valid_) {
    records_[record.spec.name] = record;
    listed_.reset();
  }
}

void RegistryCache::Erase(const std::string& name) {
  std::lock_guard lock(mu_);
  ++generation_;
  records_.erase(name);
  listed_.reset();
}

}  // namespace berth::engine
