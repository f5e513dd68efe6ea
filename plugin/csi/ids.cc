#include "plugin/csi/ids.h"

#include "common/error.h"
#include "engine/volume_spec.h"

namespace berth::csi {

void RequireVolumeId(const std::string& id) {
  if (id.empty()) {
    throw InvalidArgument("volume_id is missing");
  }
  engine::ValidateVolumeName(id);
}

SnapshotId ParseSnapshotId(const std::string& id) {
  const size_t at = id.find('@');
  if (id.empty() || at == std::string::npos || at == 0 || at + 1 == id.size()) {
    throw InvalidArgument("snapshot id '" + id + "' is not of the form VOLUME@SNAPSHOT");
  }
  SnapshotId parsed{id.substr(0, at), id.substr(at + 1)};
  engine::ValidateVolumeName(parsed.volume);
  return parsed;
}

}  // namespace berth::csi
