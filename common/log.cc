#include "common/log.h"

#include "common/error.h"

namespace berth {

namespace {

spdlog::level::level_enum ParseLogLevel(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw Error(ErrorCode::kInvalidArgument,
                "unknown log level '" + level + "'; use trace, debug, info, warn, error or off");
  }
  return parsed;
}

}  // namespace

void SetLogLevel(const std::string& level) { spdlog::set_level(ParseLogLevel(level)); }

void ValidateLogLevel(const std::string& level) { ParseLogLevel(level); }

}  // namespace berth
