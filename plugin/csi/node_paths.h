// The paths a CO hands to the Node service, held to one root: kubelet's directory (its staging
// and pod paths) or, in the Swarm managed plugin, /data. berth mounts nowhere else.
#pragma once

#include <string>

namespace berth::csi {

// kInvalidArgument naming `field` unless `path` is absolute, lexically normal (no "", "." or
// ".." component, no trailing slash) and strictly below `root`.
void CheckNodePath(const std::string& path, const std::string& root, const std::string& field);

}  // namespace berth::csi
