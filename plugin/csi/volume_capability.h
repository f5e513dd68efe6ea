// What a CSI VolumeCapability asks for, checked against what a backend type can give: RBD
// images have one writer and may be raw block devices; NFS directories take every access mode
// but are never block devices.
#pragma once

#include <string>

#include "csi.pb.h"

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

// The access mode's name, as the spec writes it.
std::string AccessModeName(::csi::v1::VolumeCapability::AccessMode::Mode mode);

}  // namespace berth::csi
