// Freezing a mounted filesystem so a snapshot is consistent (FIFREEZE / FITHAW).
#pragma once

#include <string>

namespace berth::fsutil {

void Freeze(const std::string& mount_point);
void Thaw(const std::string& mount_point);

// Freezes on construction and thaws on destruction, so a failed snapshot never leaves a
// filesystem frozen.
class ScopedFreeze {
 public:
  explicit ScopedFreeze(std::string mount_point);
  ~ScopedFreeze();
  ScopedFreeze(const ScopedFreeze&) = delete;
  ScopedFreeze& operator=(const ScopedFreeze&) = delete;

 private:
  std::string mount_point_;
};

}  // namespace berth::fsutil
