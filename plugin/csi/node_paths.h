// The paths a CO hands to the Node service, held to one root: kubelet's directory (its staging
// and pod paths) or, in the Swarm managed plugin, /data. berth mounts nowhere else.
#pragma once

#include <string>

namespace berth::csi {

// kInvalidArgument naming `field` unless `path` is absolute, lexically normal (no "", "." or
// ".." component, no trailing slash) and strictly below `root`.
void CheckNodePath(const std::string& path, const std::string& root, const std::string& field);

// kInvalidArgument naming `field` when a component of `path` below `root` that exists is a
// symbolic link: a mount through one would land outside the root. Reads the filesystem.
void RefuseSymlinks(const std::string& path, const std::string& root, const std::string& field);

// --path-root itself: absolute, lexically normal, not "/", and, if it exists, no symbolic link
// on the way (its real path is itself). kInvalidArgument otherwise.
void ValidatePathRoot(const std::string& root);

}  // namespace berth::csi
