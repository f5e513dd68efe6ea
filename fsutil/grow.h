// Growing a mounted filesystem to fill its (already grown) device, online.
#pragma once

#include <string>

namespace berth::fsutil {

// ext2/3/4: `resize2fs <device>`; xfs: `xfs_growfs <mount_point>`. Both run while mounted and
// never shrink. Other types are kInvalidArgument; a tool failure is kInternal with its output.
void GrowFilesystem(const std::string& fstype, const std::string& device,
                    const std::string& mount_point);

}  // namespace berth::fsutil
