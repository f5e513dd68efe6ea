// The backend types berth knows, in one table: how a type's settings are checked and how its
// Backend is made. With engine/volume_options.h (a type's volume options), the only place in
// the engine that names a type.
#pragma once

#include <memory>
#include <string>

#include "engine/backend.h"
#include "engine/config.h"
#include "engine/engine.h"

namespace berth::engine {

// Who this host is, for the backends that record it (locks, claims, mount records).
struct HostIdentity {
  std::string host_id;
  std::string instance_id;  // this installation's (engine/instance_id.h)
};

struct BackendType {
  const char* name;
  // kInvalidArgument for an unknown key or a bad value in the backend's config entry.
  void (*check_settings)(const BackendConfig& config);
  // `credentials` (or null) replace the identity in its settings; a type without one refuses.
  std::unique_ptr<Backend> (*make)(const BackendConfig& config, const HostIdentity& host,
                                   const Credentials* credentials);
};

// The type of a backend's config entry; kInvalidArgument naming the known types.
const BackendType& TypeOf(const BackendConfig& config);

}  // namespace berth::engine
