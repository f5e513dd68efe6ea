// The file handles of directories berth-nfs-fuse walked through, by path.
//
// libnfs' path calls look up every component from the export root on every call: creating
// d/f costs a LOOKUP of d before the CREATE, and a stat of d/f three RPCs. Caching the
// directories' handles makes each call one RPC on its parent's handle.
//
// Coherence: an entry lives as long as the kernel may trust a name it got from us (the entry
// timeout), so a directory another host renamed or replaced is seen here no later than the
// kernel's own dentry cache sees it. This mount's own rmdir and rename forget the path and
// everything below it at once, and a handle the server calls stale is forgotten by the caller.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "backends/nfs/handle_calls.h"

namespace berth::nfs {

class DirectoryHandles {
 public:
  using Clock = std::chrono::steady_clock;

  DirectoryHandles(FileHandle root, Clock::duration lifetime, size_t capacity = 4096);

  const FileHandle& root() const { return root_; }
  // The handle of directory `path` ("/" or "/a/b"), when known and younger than the lifetime.
  std::optional<FileHandle> Find(std::string_view path, Clock::time_point now) const;
  void Remember(const std::string& path, FileHandle handle, Clock::time_point now);
  // Forgets `path` and every path below it.
  void Forget(std::string_view path);
  size_t size() const;

 private:
  struct Entry {
    FileHandle handle;
    Clock::time_point learned;
  };

  const FileHandle root_;
  const Clock::duration lifetime_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

// "/a/b/c" -> {"/a/b", "c"}; "/c" -> {"/", "c"}. `path` is absolute, as FUSE hands it over.
struct SplitPath {
  std::string parent;
  std::string name;
};
SplitPath Split(std::string_view path);

}  // namespace berth::nfs
