// Which volume options each backend type takes, in one table that ParseVolumeSpec consults:
// the type's own options (rbd: pool, image, features; nfs: subdir, uid, mode), validated.
// Parsing only: nothing here connects to a backend, so the fuzzers reach all of it.
#pragma once

#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/volume_spec.h"

namespace berth::engine {

struct VolumeOptionRules {
  const char* type;
  // It hands the engine a block device, which the engine formats (ext4 or xfs) and mounts.
  bool block_device;
  // Fills the type's own part of `spec` from `options` and the backend's settings, refusing the
  // options of other types and bad values (kInvalidArgument).
  void (*parse)(VolumeSpec& spec, const Options& options, const BackendConfig& backend);
};

// The rules of a backend's type; kInvalidArgument naming the known types.
const VolumeOptionRules& OptionRulesOf(const BackendConfig& backend);

// Per type (engine/rbd/volume_options.cc, engine/nfs/volume_options.cc).
void ParseRbdVolumeOptions(VolumeSpec& spec, const Options& options, const BackendConfig& backend);
void ParseNfsVolumeOptions(VolumeSpec& spec, const Options& options, const BackendConfig& backend);

// The mount options berth sets from an nfs backend's settings, which no volume may override.
const std::vector<std::string>& NfsOptionsSetByBerth();
// ValidateVolumeMountOptions, and none of NfsOptionsSetByBerth. kInvalidArgument.
void ValidateNfsMountOptions(const std::string& mount_options);

// A string setting of `backend`, or `fallback`; a value of another JSON type is
// kInvalidArgument (else it would end every Create in a json::type_error).
std::string StringSetting(const BackendConfig& backend, const std::string& key,
                          const std::string& fallback);

}  // namespace berth::engine
