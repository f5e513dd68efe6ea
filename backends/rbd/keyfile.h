// A cephx key written to a private 0600 file for as long as a Ceph tool needs it to start,
// then removed. For keys that must never rest on disk (FlexVolume secrets).
#pragma once

#include <string>

namespace berth::rbd {

class KeyFile {
 public:
  // Creates a fresh file (O_EXCL) in `dir`, which must be root-only.
  KeyFile(const std::string& dir, const std::string& key);
  ~KeyFile();
  KeyFile(const KeyFile&) = delete;
  KeyFile& operator=(const KeyFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace berth::rbd
