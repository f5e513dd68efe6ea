// Helpers shared by the security tests: file modes, snapshots of a directory tree, base64.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace berth::testing {

// lstat's st_mode of `path` (0 when it does not exist): the path itself, never a symlink target.
mode_t ModeOf(const std::string& path);

// Every path under `root` (not following symlinks, not descending into mount points), each
// with its type and content size, for "nothing changed" checks.
std::set<std::string> TreeSnapshot(const std::string& root);

std::string Base64Encode(const std::string& bytes);
std::string Base64Decode(const std::string& text);

// Sets the umask for the lifetime of the object.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t old_;
};

// Runs `f` when it goes out of scope: cleanup that must happen when an assertion fails.
class Defer {
 public:
  explicit Defer(std::function<void()> f) : f_(std::move(f)) {}
  ~Defer() { f_(); }
  Defer(const Defer&) = delete;
  Defer& operator=(const Defer&) = delete;

 private:
  std::function<void()> f_;
};

// Unmounts `ids` of volume `name` and removes it through berthd's socket; when that fails,
// through an engine in this process with `config_path`'s config. Failures are test failures.
void CleanUpVolume(const std::string& socket, const std::string& config_path,
                   const std::string& name, const std::vector<std::string>& ids);

}  // namespace berth::testing
