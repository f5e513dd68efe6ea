// The backend types berth knows, in one table: how a type's settings are checked, which volume
// options it takes, and how its Backend is made. Nothing else in the engine names a type.
#pragma once

#include <memory>
#include <string>

#include "engine/backend.h"
#include "engine/config.h"
#include "engine/engine.h"
#include "engine/volume_spec.h"

namespace berth::engine {

// Who this host is, for the backends that record it (locks, claims, mount records).
struct HostIdentity {
  std::string host_id;
  std::string instance_id;  // this installation's (engine/instance_id.h)
};

struct BackendType {
  const char* name;
  // It hands the engine a block device, which the engine formats (ext4 or xfs) and mounts.
  bool block_device;
  // kInvalidArgument for an unknown key or a bad value in the backend's config entry.
  void (*check_settings)(const BackendConfig& config);
  // Fills the type's own part of `spec` from `options` and the backend's settings, refusing the
  // options of other types and bad values (kInvalidArgument).
  void (*parse_options)(VolumeSpec& spec, const Options& options, const BackendConfig& backend);
  // `credentials` (or null) replace the identity in its settings; a type without one refuses.
  std::unique_ptr<Backend> (*make)(const BackendConfig& config, const HostIdentity& host,
                                   const Credentials* credentials);
};

// The type of a backend's config entry; kInvalidArgument naming the known types.
const BackendType& TypeOf(const BackendConfig& config);

// Per type (engine/rbd/volume_options.cc, engine/nfs/volume_options.cc).
void ParseRbdVolumeOptions(VolumeSpec& spec, const Options& options, const BackendConfig& backend);
void ParseNfsVolumeOptions(VolumeSpec& spec, const Options& options, const BackendConfig& backend);

// A string setting of `backend`, or `fallback`; a value of another JSON type is
// kInvalidArgument (else it would end every Create in a json::type_error).
std::string StringSetting(const BackendConfig& backend, const std::string& key,
                          const std::string& fallback);

}  // namespace berth::engine
