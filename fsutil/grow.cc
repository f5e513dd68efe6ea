#include "fsutil/grow.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

#include "common/error.h"
#include "common/subprocess.h"
#include "fsutil/tool_output.h"

namespace berth::fsutil {

namespace {

bool IsExt(const std::string& fstype) {
  return fstype == "ext2" || fstype == "ext3" || fstype == "ext4";
}

Error ToolFailed(const std::vector<std::string>& argv, const CommandResult& result) {
  return Error(ErrorCode::kInternal, JoinCommand(argv) + " failed (exit status " +
                                         std::to_string(result.exit_code) +
                                         "): " + SummarizeToolOutput(result.out, result.err));
}

}  // namespace

GrowOutcome GrowFilesystem(const std::string& fstype, const std::string& device,
                           const std::string& mount_point) {
  std::vector<std::string> argv;
  if (IsExt(fstype)) {
    argv = {"resize2fs", device};
  } else if (fstype == "xfs") {
    argv = {"xfs_growfs", mount_point};
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                "cannot grow a " + fstype + " filesystem; berth grows ext2, ext3, ext4 and xfs");
  }
  const CommandResult result = RunCommand(argv, std::chrono::minutes(30));
  if (result.exit_code != 0) {
    if (IsExt(fstype) && result.err.find("Permission denied to resize") != std::string::npos) {
      spdlog::warn("the kernel refused to resize {} online (no CAP_SYS_RESOURCE)", device);
      return GrowOutcome::kNeedsUnmount;
    }
    throw ToolFailed(argv, result);
  }
  spdlog::info("grew the {} filesystem on {} (mounted at {})", fstype, device, mount_point);
  return GrowOutcome::kGrown;
}

void GrowUnmountedFilesystem(const std::string& fstype, const std::string& device) {
  if (!IsExt(fstype)) {
    return;
  }
  const std::vector<std::string> check{"e2fsck", "-f", "-p", device};
  const CommandResult checked = RunCommand(check, std::chrono::hours(2));
  if (checked.exit_code != 0 && checked.exit_code != 1) {
    throw Error(ErrorCode::kConflict, "the filesystem on " + device +
                                          " must be checked before it can grow, and " +
                                          JoinCommand(check) + " failed (exit status " +
                                          std::to_string(checked.exit_code) +
                                          "): " + SummarizeToolOutput(checked.out, checked.err));
  }
  const std::vector<std::string> argv{"resize2fs", device};
  const CommandResult result = RunCommand(argv, std::chrono::hours(2));
  if (result.exit_code != 0) {
    throw ToolFailed(argv, result);
  }
  spdlog::info("grew the {} filesystem on {} before mounting it", fstype, device);
}

}  // namespace berth::fsutil
