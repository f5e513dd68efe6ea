// CreateVolume's request as berth create options: the parameters are berth's options (backend,
// pool, fstype, mkfs_options, features, subdir, ...), capacity_range is the size.
#pragma once

#include <string>

#include "csi.pb.h"
#include "engine/config.h"
#include "engine/volume_spec.h"

namespace berth::csi {

// The parameter prefix the Kubernetes sidecars reserve (secret references, PVC names): such
// parameters are the CO's, never berth options.
inline constexpr std::string_view kKubernetesParameterPrefix = "csi.storage.k8s.io/";

struct CreatePlan {
  engine::Options options;   // complete: backend and size included
  std::string backend_type;  // "rbd" or "nfs"
  bool block = false;        // the capabilities ask for a raw block volume (volume_mode=block)
};

// Checks the name, the parameters (unknown ones, and `size`, which capacity_range sets, are
// kInvalidArgument naming the allowed ones), the capabilities (CheckCapability) and the
// capacity (negative, or over 1 PiB: kInvalidArgument). A capacity that cannot fit the
// range's limit is OUT_OF_RANGE (a StatusError). The size is required_bytes rounded up to
// whole MiB; with only a limit, the limit rounded down; with neither, the backend's default.
CreatePlan PlanCreate(const ::csi::v1::CreateVolumeRequest& request, const engine::Config& config);

// The size in bytes a capacity range asks for, rounded up to whole MiB; 0 for "any".
uint64_t RequiredBytes(const ::csi::v1::CapacityRange& range);

}  // namespace berth::csi
