#include "engine/volume_options.h"

#include "common/error.h"

namespace berth::engine {

namespace {

constexpr VolumeOptionRules kRules[] = {
    {"rbd", true, ParseRbdVolumeOptions},
    {"nfs", false, ParseNfsVolumeOptions},
};

}  // namespace

const VolumeOptionRules& OptionRulesOf(const BackendConfig& backend) {
  for (const auto& rules : kRules) {
    if (backend.type == rules.type) {
      return rules;
    }
  }
  throw Error(ErrorCode::kInvalidArgument, "backend '" + backend.name + "' has unknown type '" +
                                               backend.type + "'; use rbd or nfs");
}

std::string StringSetting(const BackendConfig& backend, const std::string& key,
                          const std::string& fallback) {
  if (!backend.settings.contains(key)) {
    return fallback;
  }
  const auto& value = backend.settings.at(key);
  if (!value.is_string()) {
    throw Error(ErrorCode::kInvalidArgument, "setting '" + key + "' of backend '" + backend.name +
                                                 "' in the config is " + value.type_name() +
                                                 ", not a string such as \"" + fallback + "\"");
  }
  return value.get<std::string>();
}

}  // namespace berth::engine
