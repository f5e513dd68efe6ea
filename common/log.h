// Logging setup shared by every binary: spdlog to stderr with a level.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace berth {

// Sets the default logger's level from a name (trace, debug, info, warn, error); bad names throw.
void SetLogLevel(const std::string& level);

}  // namespace berth
