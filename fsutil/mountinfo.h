// Reading /proc/self/mountinfo: what is mounted where, from which device.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace berth::fsutil {

struct MountEntry {
  int id = 0;
  int parent_id = 0;
  std::string device_number;  // "major:minor"
  std::string root;
  std::string mount_point;  // octal escapes (\040) decoded
  std::string options;
  std::string fstype;
  std::string source;
  std::string super_options;
};

// Parses mountinfo text; malformed lines throw kInternal naming the line.
std::vector<MountEntry> ParseMountInfo(const std::string& text);

// The current process's mounts.
std::vector<MountEntry> ReadMountInfo();

// The last (topmost) mount on `mount_point`, if any.
std::optional<MountEntry> FindMount(const std::vector<MountEntry>& mounts,
                                    const std::string& mount_point);

// Whether something is mounted at `path` (false for an empty path).
bool IsMountPoint(const std::string& path);

// Every mount whose source is `source` (a device path), in mountinfo order.
std::vector<MountEntry> FindMountsOfSource(const std::vector<MountEntry>& mounts,
                                           const std::string& source);

}  // namespace berth::fsutil
