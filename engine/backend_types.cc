#include "engine/backend_types.h"

#include "common/error.h"
#include "engine/nfs/nfs_backend.h"
#include "engine/rbd/rbd_backend.h"

namespace berth::engine {

namespace {

std::unique_ptr<Backend> MakeRbd(const BackendConfig& config, const HostIdentity& host,
                                 const Credentials* credentials) {
  RbdSettings settings = ParseRbdSettings(config);
  if (credentials) {
    settings.user = credentials->user;
    settings.keyring.clear();
    settings.key = credentials->key;
  }
  return std::make_unique<RbdBackend>(std::move(settings), host.host_id, host.instance_id);
}

std::unique_ptr<Backend> MakeNfs(const BackendConfig& config, const HostIdentity& host,
                                 const Credentials* credentials) {
  if (credentials) {
    throw Error(ErrorCode::kInvalidArgument,
                "backend '" + config.name + "' is an nfs backend, which takes no Ceph credentials");
  }
  return std::make_unique<NfsBackend>(ParseNfsSettings(config), host.host_id, host.instance_id);
}

constexpr BackendType kTypes[] = {
    {"rbd", true, [](const BackendConfig& c) { ParseRbdSettings(c); }, ParseRbdVolumeOptions,
     MakeRbd},
    {"nfs", false, [](const BackendConfig& c) { ParseNfsSettings(c); }, ParseNfsVolumeOptions,
     MakeNfs},
};

}  // namespace

const BackendType& TypeOf(const BackendConfig& config) {
  for (const auto& type : kTypes) {
    if (config.type == type.name) {
      return type;
    }
  }
  throw Error(ErrorCode::kInvalidArgument,
              "backend '" + config.name + "' has unknown type '" + config.type + "'; use rbd or nfs");
}

std::string StringSetting(const BackendConfig& backend, const std::string& key,
                          const std::string& fallback) {
  if (!backend.settings.contains(key)) {
    return fallback;
  }
  const auto& value = backend.settings.at(key);
  if (!value.is_string()) {
    throw Error(ErrorCode::kInvalidArgument,
                "setting '" + key + "' of backend '" + backend.name + "' in the config is " +
                    value.type_name() + ", not a string such as \"" + fallback + "\"");
  }
  return value.get<std::string>();
}

}  // namespace berth::engine
