// Logging setup shared by every binary: spdlog to stderr with a level.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace berth {

// Sets the default logger's level from a name (trace, debug, info, warn, error, off); bad names
// throw kInvalidArgument, naming the allowed ones (as ValidateLogLevel).
void SetLogLevel(const std::string& level);

// Throws as SetLogLevel would, and changes nothing (for config checks).
void ValidateLogLevel(const std::string& level);

}  // namespace berth
