// Condensing a host tool's output (mkfs, e2fsck) into something that fits in an error message.
#pragma once

#include <string>

namespace berth::fsutil {

// stdout and stderr joined and trimmed; long output keeps its tail, where tools print the cause.
std::string SummarizeToolOutput(const std::string& out, const std::string& err);

}  // namespace berth::fsutil
