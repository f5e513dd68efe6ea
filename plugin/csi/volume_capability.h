// What a CSI VolumeCapability asks for, checked against what a backend type can give: RBD
// images have one writer and may be raw block devices; NFS directories take every access mode
// but are never block devices.
#pragma once

#include <string>

#include "csi.pb.h"
#include "engine/volume_spec.h"

namespace berth::csi {

struct AccessRequest {
  bool block = false;          // a raw block device, published as a file
  bool read_only = false;      // a reader-only access mode
  bool single_writer = false;  // SINGLE_NODE_SINGLE_WRITER: one publication at a time
};

// kInvalidArgument naming what is wrong and what `backend_type` allows: a missing access
// type or mode, block on NFS, a multi-node writer on RBD, or mount flags (berth takes mount
// options from the volume's mount_options, so every node mounts it alike).
AccessRequest CheckCapability(const ::csi::v1::VolumeCapability& capability,
                              const std::string& backend_type);

// CheckCapability, and the access type must match the volume's: a block capability for a raw
// block volume, a mount for a filesystem volume (kInvalidArgument), so a volume a pod used as a
// raw device is never taken for a filesystem to format.
AccessRequest CheckVolumeCapability(const ::csi::v1::VolumeCapability& capability,
                                    const engine::VolumeSpec& spec,
                                    const std::string& backend_type);

// The access mode's name, as the spec writes it.
std::string AccessModeName(::csi::v1::VolumeCapability::AccessMode::Mode mode);

}  // namespace berth::csi
