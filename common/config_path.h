// Which berth.json a berth program reads. Here, not in the engine, because berth-flex needs it
// without the engine's libraries (plugin/flex/driver_engine.h).
#pragma once

#include <string>

namespace berth {

// --config PATH, else $BERTH_CONFIG, else /etc/berth/berth.json.
std::string ResolveConfigPath(const std::string& flag_value);

}  // namespace berth
