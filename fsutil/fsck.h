// Checking an existing filesystem before it is mounted read-write.
#pragma once

#include <string>

namespace berth::fsutil {

// ext2/3/4: `e2fsck -p`. Exit 0 (clean) and 1 (errors fixed) pass; anything else throws
// kConflict with e2fsck's output, so a damaged filesystem is never mounted. Other filesystem
// types are not checked (xfs replays its log at mount; xfs_repair is an operator's decision).
void CheckFilesystem(const std::string& fstype, const std::string& device);

}  // namespace berth::fsutil
