// berth-csi's --endpoint: the unix socket it listens on, as COs write it.
#pragma once

#include <string>

namespace berth::csi {

// "unix:///csi/csi.sock" or "unix:/csi/csi.sock" -> "/csi/csi.sock". Anything else (tcp://,
// a relative path, an empty one) is kInvalidArgument saying what is allowed: a CSI driver
// serves its CO on the node, never over the network.
std::string SocketPathOf(const std::string& endpoint);

}  // namespace berth::csi
