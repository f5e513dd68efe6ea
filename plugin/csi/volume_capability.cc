#include "plugin/csi/volume_capability.h"

#include "common/error.h"

namespace berth::csi {

namespace {

using Mode = ::csi::v1::VolumeCapability::AccessMode::Mode;

constexpr const char* kRbdModes =
    "SINGLE_NODE_WRITER, SINGLE_NODE_SINGLE_WRITER, SINGLE_NODE_MULTI_WRITER, "
    "SINGLE_NODE_READER_ONLY, MULTI_NODE_READER_ONLY";

bool IsMultiNodeWriter(Mode mode) {
  return mode == ::csi::v1::VolumeCapability::AccessMode::MULTI_NODE_SINGLE_WRITER ||
         mode == ::csi::v1::VolumeCapability::AccessMode::MULTI_NODE_MULTI_WRITER;
}

}  // namespace

std::string AccessModeName(Mode mode) {
  return ::csi::v1::VolumeCapability::AccessMode::Mode_Name(mode);
}

AccessRequest CheckCapability(const ::csi::v1::VolumeCapability& capability,
                              const std::string& backend_type) {
  using AccessMode = ::csi::v1::VolumeCapability::AccessMode;
  if (!capability.has_access_mode() || capability.access_mode().mode() == AccessMode::UNKNOWN ||
      !AccessMode::Mode_IsValid(capability.access_mode().mode())) {
    throw InvalidArgument("volume capability has no access mode; berth serves " +
                          std::string(backend_type == "rbd" ? kRbdModes : "every mode") + " on " +
                          backend_type + " volumes");
  }
  const Mode mode = capability.access_mode().mode();
  AccessRequest request;
  request.read_only =
      mode == AccessMode::SINGLE_NODE_READER_ONLY || mode == AccessMode::MULTI_NODE_READER_ONLY;
  request.single_writer = mode == AccessMode::SINGLE_NODE_SINGLE_WRITER;
  switch (capability.access_type_case()) {
    case ::csi::v1::VolumeCapability::kBlock:
      request.block = true;
      if (backend_type != "rbd") {
        throw InvalidArgument("block volumes are RBD images only; a " + backend_type +
                              " volume is a directory: ask for a mount volume");
      }
      break;
    case ::csi::v1::VolumeCapability::kMount:
      if (capability.mount().mount_flags_size() > 0) {
        throw InvalidArgument(
            "mount flags ('" + capability.mount().mount_flags(0) +
            "', ...) are not taken from the capability: set them as the volume's parameter "
            "mount_options, so every node mounts the volume alike");
      }
      break;
    default:
      throw InvalidArgument("volume capability names no access type: set mount or block");
  }
  if (backend_type == "rbd" && IsMultiNodeWriter(mode)) {
    throw InvalidArgument("access mode " + AccessModeName(mode) +
                          " is refused: an RBD volume has one writing node at a time. Allowed: " +
                          kRbdModes + "; use an nfs backend for writers on many nodes");
  }
  return request;
}

AccessRequest CheckVolumeCapability(const ::csi::v1::VolumeCapability& capability,
                                    const engine::VolumeSpec& spec,
                                    const std::string& backend_type) {
  const AccessRequest request = CheckCapability(capability, backend_type);
  if (request.block != spec.block) {
    throw InvalidArgument("volume " + spec.name + " is a " +
                          (spec.block ? "raw block volume; ask for a block capability (volumeMode: "
                                        "Block), berth never formats or mounts it"
                                      : "filesystem volume; ask for a mount capability "
                                        "(volumeMode: Filesystem)"));
  }
  return request;
}

}  // namespace berth::csi
