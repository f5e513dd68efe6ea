#include "engine/backend_types.h"

#include "common/error.h"
#include "engine/nfs/nfs_backend.h"
#include "engine/rbd/rbd_backend.h"
#include "engine/volume_options.h"

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
    {"rbd", [](const BackendConfig& c) { ParseRbdSettings(c); }, MakeRbd},
    {"nfs", [](const BackendConfig& c) { ParseNfsSettings(c); }, MakeNfs},
};

}  // namespace

const BackendType& TypeOf(const BackendConfig& config) {
  for (const auto& type : kTypes) {
    if (config.type == type.name) {
      return type;
    }
  }
  OptionRulesOf(config);  // refuses an unknown type, naming the known ones
  throw Error(ErrorCode::kInternal, "backend type '" + config.type + "' has no factory");
}
}  // namespace berth::engine
