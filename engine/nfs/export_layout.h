// Where berth keeps things on an NFS export: the registry, the volumes' directories, the
// per-host records, archives, snapshots and copies in progress. For engine/nfs/ only.
#pragma once

#include <string>

#include "engine/volume_spec.h"

namespace berth::engine {

inline constexpr const char* kRegistryDir = "/.berth/volumes";
inline constexpr const char* kArchiveDir = "/.berth-archive";
inline constexpr const char* kSnapshotDir = "/.berth-snapshots";
// Copies in progress live here, never beside volumes, whose names they could collide with.
inline constexpr const char* kTempDir = "/.berth-tmp";

inline std::string RecordPath(const std::string& name) {
  return std::string(kRegistryDir) + "/" + name + ".json";
}

inline std::string VolumeDir(const VolumeSpec& spec) { return "/" + spec.subdir; }

// Which installation uses each host id: one file per host id, holding its instance id.
inline std::string HostClaimPath(const std::string& host_id) { return "/.berth/hosts/" + host_id; }

// One empty file per host that has the volume mounted.
inline std::string AttachedDir(const VolumeSpec& spec) { return "/.berth/attached/" + spec.name; }

inline std::string TempPath(const std::string& what, const std::string& name) {
  return std::string(kTempDir) + "/" + what + "-" + name;
}

inline std::string SnapshotBase(const VolumeSpec& spec) {
  return std::string(kSnapshotDir) + "/" + spec.name;
}

}  // namespace berth::engine
