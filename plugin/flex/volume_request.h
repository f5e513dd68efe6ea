// What a FlexVolume options map asks of berth: which volume, how to create it if missing,
// read-only or not, the pod's fsGroup, and the cephx identity from the pod's secret.
#pragma once

#include <optional>
#include <string>

#include "engine/volume_spec.h"
#include "plugin/flex/call.h"
#include "plugin/flex/driver_kind.h"

namespace berth::flex {

struct VolumeRequest {
  std::string name;   // the berth volume: `volume`, else `image`, else kubelet's volume name
  std::string alias;  // kubernetes.io/pvOrVolumeName
  bool create = false;
  bool read_only = false;
  std::optional<unsigned> fs_group;
  // An RBD image to adopt when the volume is not registered yet (`image` names one that
  // exists but berth did not create).
  std::string image;
  // berth options for Create: backend, size, fstype, pool and the rest of KnownOptions().
  engine::Options create_options;
  // A tenant volume's cephx id (option `user`; a secret's userID must repeat it). Its key comes
  // from the pod's secret, which kubelet passes only to `mount`: so a tenant volume is created,
  // locked and mapped in `mount`, with that key, and attach/waitforattach do nothing for it.
  std::string user;
  std::string key;  // the decoded secret; empty outside `mount`. Never logged.
};

// Validates every option (names, size, readwrite, fsGroup, base64 of secrets) and throws
// kInvalidArgument saying what is allowed. Error messages never contain secret values.
VolumeRequest ParseVolumeRequest(DriverKind driver, const FlexOptions& options);

// Strict base64 (RFC 4648, padding optional, no whitespace inside); kInvalidArgument otherwise.
std::string DecodeBase64(const std::string& text);

}  // namespace berth::flex
