// berth-csi's ids: a CSI volume id is the berth volume's name; a snapshot id is
// "<volume>@<snapshot>", the same text `berthctl snapshot` takes.
#pragma once

#include <string>

namespace berth::csi {

// kInvalidArgument when `id` is missing or not a berth volume name.
void RequireVolumeId(const std::string& id);

struct SnapshotId {
  std::string volume;
  std::string snapshot;
  std::string ToString() const { return volume + "@" + snapshot; }
};

// kInvalidArgument unless `id` is a valid volume name, '@' and a non-empty snapshot name (the
// snapshot's backend checks the rest of its name).
SnapshotId ParseSnapshotId(const std::string& id);

}  // namespace berth::csi
