// A volume as users see it (docker volume inspect's Status, berthctl inspect). No secrets.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace berth::engine {

nlohmann::json VolumeStatus(const VolumeInfo& info, const std::string& host_id);

}  // namespace berth::engine
