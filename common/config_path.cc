#include "common/config_path.h"

#include <cstdlib>

namespace berth {

std::string ResolveConfigPath(const std::string& flag_value) {
  if (!flag_value.empty()) {
    return flag_value;
  }
  if (const char* env = std::getenv("BERTH_CONFIG"); env != nullptr && *env != '\0') {
    return env;
  }
  return "/etc/berth/berth.json";
}

}  // namespace berth
