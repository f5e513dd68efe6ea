#include "common/log.h"

#include "common/error.h"

namespace berth {

void SetLogLevel(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw Error(ErrorCode::kInvalidArgument,
                "unknown log level '" + level + "'; use trace, debug, info, warn, error or off");
  }
  spdlog::set_level(parsed);
}

}  // namespace berth
