#include "backends/nfs/fuse/directory_handles.h"

#include <utility>

namespace berth::nfs {

DirectoryHandles::DirectoryHandles(FileHandle root, Clock::duration lifetime, size_t capacity)
    : root_(std::move(root)), lifetime_(lifetime), capacity_(capacity) {}

std::optional<FileHandle> DirectoryHandles::Find(std::string_view path,
                                                 Clock::time_point now) const {
  if (path == "/") {
    return root_;
  }
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(path);
  if (it == entries_.end() || now - it->second.learned >= lifetime_) {
    return std::nullopt;
  }
  return it->second.handle;
}

void DirectoryHandles::Remember(const std::string& path, FileHandle handle, Clock::time_point now) {
  if (path == "/" || lifetime_ <= Clock::duration::zero()) {
    return;
  }
  std::lock_guard lock(mutex_);
  if (entries_.size() >= capacity_ && !entries_.contains(path)) {
    // A walk over more directories than the bound: start again rather than track ages.
    entries_.clear();
  }
  entries_.insert_or_assign(path, Entry{std::move(handle), now});
}

void DirectoryHandles::Forget(std::string_view path) {
  std::lock_guard lock(mutex_);
  if (path == "/") {
    entries_.clear();
    return;
  }
  if (const auto it = entries_.find(path); it != entries_.end()) {
    entries_.erase(it);
  }
  const std::string children = std::string(path) + "/";
  auto it = entries_.lower_bound(children);
  while (it != entries_.end() && it->first.starts_with(children)) {
    it = entries_.erase(it);
  }
}

size_t DirectoryHandles::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

SplitPath Split(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    return {"/", std::string(path)};
  }
  return {slash == 0 ? std::string("/") : std::string(path.substr(0, slash)),
          std::string(path.substr(slash + 1))};
}

}  // namespace berth::nfs
