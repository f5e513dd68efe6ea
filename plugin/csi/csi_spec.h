// The facts berth-csi announces: which CSI specification its protocol follows, and the driver
// name a CO (kubelet, Docker Swarm) knows it by.
#pragma once

#include <string_view>

namespace berth::csi {

// plugin/csi/proto/csi.proto follows this version of the specification.
inline constexpr std::string_view kCsiSpecVersion = "1.12.0";
// Domain-name notation, as the specification asks: what a StorageClass's `provisioner` or a
// Swarm cluster volume's `--driver` names.
inline constexpr std::string_view kDriverName = "csi.berth.dev";

}  // namespace berth::csi
