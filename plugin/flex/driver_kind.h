// The FlexVolume drivers berth-flex serves, one per installed name: berth/rbd, berth/rbd-node
// and berth/nfs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth::flex {

enum class DriverKind {
  kRbd,      // berth/rbd: attachable; the controller attaches, the node maps in waitforattach
  kRbdNode,  // berth/rbd-node: the same RBD volumes, attached by the node alone in `mount`
  kNfs,      // berth/nfs: an NFS directory, mounted in `mount`
};

// The name after "berth/" in a pod spec, and the installed file's name: "rbd", "rbd-node", "nfs".
std::string_view DriverName(DriverKind driver);
// The inverse of DriverName; nullopt for any other name.
std::optional<DriverKind> ParseDriverName(std::string_view name);
// The type of config backend the driver's volumes live on: "rbd" or "nfs".
std::string_view BackendType(DriverKind driver);
// Whether kubelet and kube-controller-manager run the attach/detach calls (init's "attach").
bool IsAttachable(DriverKind driver);

}  // namespace berth::flex
