#include "fsutil/fsck.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/error.h"
#include "common/subprocess.h"
#include "fsutil/tool_output.h"

namespace berth::fsutil {

namespace {

// e2fsck(8) exit status bits.
constexpr int kErrorsCorrected = 1;
constexpr int kRebootSuggested = 2;
constexpr int kUncorrected = 4;

bool IsExtFilesystem(const std::string& fstype) {
  return fstype == "ext2" || fstype == "ext3" || fstype == "ext4";
}

}  // namespace

void CheckFilesystem(const std::string& fstype, const std::string& device) {
  if (!IsExtFilesystem(fstype)) {
    return;
  }
  const std::vector<std::string> argv{"e2fsck", "-p", device};
  // A full check of a large filesystem that was not unmounted cleanly can take a long time;
  // killing e2fsck halfway is worse than waiting.
  const CommandResult result = RunCommand(argv, std::chrono::hours(2));
  const int code = result.exit_code;
  if (code == 0) {
    return;
  }
  const std::string output = SummarizeToolOutput(result.out, result.err);
  if ((code & ~(kErrorsCorrected | kRebootSuggested)) == 0) {
    if ((code & kRebootSuggested) != 0) {
      // The reboot advice is for a mounted root filesystem; this one is not mounted yet.
      spdlog::warn("e2fsck -p fixed errors on {} and suggests a reboot (exit {}): {}", device, code,
                   output);
    } else {
      spdlog::info("e2fsck -p fixed errors on {}: {}", device, output);
    }
    return;
  }
  if ((code & kUncorrected) != 0) {
    throw Error(ErrorCode::kConflict, "filesystem on " + device +
                                          " has errors e2fsck -p cannot fix: " + output +
                                          "; run e2fsck manually");
  }
  throw Error(ErrorCode::kConflict, "e2fsck -p could not check the filesystem on " + device +
                                        " (exit status " + std::to_string(code) + "): " + output +
                                        "; it is not mounted until a check passes (is the device "
                                        "in use elsewhere?)");
}

}  // namespace berth::fsutil
