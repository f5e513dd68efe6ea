// Growing a mounted filesystem to fill its (already grown) device, online.
#pragma once

#include <string>

namespace berth::fsutil {

enum class GrowOutcome {
  kGrown,
  // The kernel refused an online ext4 resize (EPERM: the process lacks CAP_SYS_RESOURCE, as
  // in some containers); GrowUnmountedFilesystem can do it before the next mount.
  kNeedsUnmount,
};

// ext2/3/4: `resize2fs <device>`; xfs: `xfs_growfs <mount_point>`. Both run while mounted and
// never shrink. Other types are kInvalidArgument; a tool failure is kInternal with its output.
GrowOutcome GrowFilesystem(const std::string& fstype, const std::string& device,
                           const std::string& mount_point);

// ext2/3/4 only, on an unmounted device: a full check (`e2fsck -f -p`, which resize2fs
// requires), then `resize2fs <device>`. Other types are left alone (xfs grows only mounted).
void GrowUnmountedFilesystem(const std::string& fstype, const std::string& device);

}  // namespace berth::fsutil
