// A cephx key written to a private 0600 file for as long as a Ceph tool needs it to start,
// then removed. For keys that must never rest on disk (FlexVolume secrets).
#pragma once

#include <string>

namespace berth::rbd {

// Checks that `key` is a bare cephx secret (the 40 base64 characters after "key =" in a
// keyring, "AQ...=="), before any library sees it: librados prints a key it cannot decode to
// stderr, which is berth-flex's log. kInvalidArgument saying what is wrong, never the value.
void ValidateCephxKey(const std::string& key);

// Removes the key files under `dir`/*/ that no live process owns: a process killed while a
// mapper started leaves its file behind (the name carries its pid). Every berth process does
// this when it starts. Returns how many it removed.
int SweepOrphanedKeyFiles(const std::string& dir);

class KeyFile {
 public:
  // Creates a fresh file (O_EXCL) in `dir`, which must be root-only, named .key.<pid>.<random>.
  KeyFile(const std::string& dir, const std::string& key);
  ~KeyFile();
  KeyFile(const KeyFile&) = delete;
  KeyFile& operator=(const KeyFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace berth::rbd
