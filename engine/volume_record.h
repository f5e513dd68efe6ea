// A volume's entry in the cluster-wide registry: its spec and the format ledger.
#pragma once

#include <string>

#include "engine/volume_spec.h"

namespace berth::engine {

struct VolumeRecord {
  VolumeSpec spec;
  std::string created_at;  // RFC 3339, UTC
  std::string created_by;  // host id
  // The format ledger: set once a filesystem was made (or found, for an adopted image).
  // A device that probes blank while this is set is never formatted again.
  std::string formatted_at;
  std::string formatted_by;

  // The storage grew but the filesystem could not follow while mounted (the kernel refused an
  // online ext4 resize): the next read-write mount grows it before mounting.
  bool grow_pending = false;
  std::string cloned_from;  // "volume@snapshot" for a clone

  // Not stored: the registry entry exactly as this record was read from it, the version that
  // an update compares and sets against (empty for a record not read from the registry).
  std::string stored;

  bool formatted() const { return !formatted_at.empty(); }
};

std::string RecordToString(const VolumeRecord& record);
// Throws kInternal naming the volume when a registry entry is corrupt.
VolumeRecord RecordFromString(const std::string& name, const std::string& text);

// Now, as RFC 3339 UTC with seconds ("2026-11-26T19:36:53Z").
std::string NowRfc3339();

}  // namespace berth::engine
