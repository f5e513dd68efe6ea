// The one function that decides whether a device may be formatted, then mounts it.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace berth::fsutil {

struct FormatAndMountRequest {
  std::string volume;  // for messages
  std::string device;
  std::string mount_point;
  std::string fstype;  // wanted filesystem
  std::vector<std::string> mkfs_options;
  std::vector<std::string> mount_options;
  bool read_only = false;
  // The registry's ledger: true once any host has formatted this volume (or adopted data).
  bool recorded_formatted = false;
};

enum class FormatOutcome { kFormattedNew, kMountedExisting };

// 1. Probe with libblkid; a probe failure throws and nothing is written.
// 2. Blank: refused (kConflict) if the registry records the volume as formatted, refused if
//    read-only; otherwise mkfs, then `record_formatted` (the caller writes the ledger), then
//    mount. A blank device is formatted only when both the ledger and libblkid agree.
// 3. A filesystem of another type than wanted: refused (kConflict).
// 4. A partition table, LUKS, RAID or any other signature: refused (kConflict), never formatted.
// 5. The wanted filesystem: checked (fsck) when read-write, recorded if the ledger did not
//    know it yet, then mounted (read-only mounts skip journal replay).
FormatOutcome FormatAndMount(const FormatAndMountRequest& request,
                             const std::function<void()>& record_formatted);

}  // namespace berth::fsutil
