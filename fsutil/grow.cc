#include "fsutil/grow.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

#include "common/error.h"
#include "common/subprocess.h"
#include "fsutil/tool_output.h"

namespace berth::fsutil {

void GrowFilesystem(const std::string& fstype, const std::string& device,
                    const std::string& mount_point) {
  std::vector<std::string> argv;
  if (fstype == "ext2" || fstype == "ext3" || fstype == "ext4") {
    argv = {"resize2fs", device};
  } else if (fstype == "xfs") {
    argv = {"xfs_growfs", mount_point};
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                "cannot grow a " + fstype + " filesystem; berth grows ext2, ext3, ext4 and xfs");
  }
  const CommandResult result = RunCommand(argv, std::chrono::minutes(30));
  if (result.exit_code != 0) {
    throw Error(ErrorCode::kInternal, JoinCommand(argv) + " failed (exit status " +
                                          std::to_string(result.exit_code) +
                                          "): " + SummarizeToolOutput(result.out, result.err));
  }
  spdlog::info("grew the {} filesystem on {} (mounted at {})", fstype, device, mount_point);
}

}  // namespace berth::fsutil
