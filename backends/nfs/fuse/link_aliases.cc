#include "backends/nfs/fuse/link_aliases.h"

#include <utility>

namespace berth::nfs {

void LinkAliases::Note(uint64_t fileid, uint32_t nlink, const std::string& path) {
  if (nlink < 2) {
    return;
  }
  std::lock_guard lock(mutex_);
  if (count_ >= capacity_) {
    // Past the bound, start again: a name missing here keeps stale attributes for at most the
    // attribute timeout, as without this.
    names_.clear();
    count_ = 0;
  }
  if (names_[fileid].insert(path).second) {
    ++count_;
  }
}

std::vector<std::string> LinkAliases::Take(uint64_t fileid) {
  std::lock_guard lock(mutex_);
  const auto it = names_.find(fileid);
  if (it == names_.end()) {
    return {};
  }
  std::vector<std::string> names(it->second.begin(), it->second.end());
  count_ -= names.size();
  names_.erase(it);
  return names;
}

bool LinkAliases::empty() const {
  std::lock_guard lock(mutex_);
  return names_.empty();
}

}  // namespace berth::nfs
