// The rbd backend's part of an attachment: which mapper serves the device, and whether this
// attach holds the volume's lock. Only engine/rbd/ reads or writes it.
#pragma once

#include "backends/rbd/mappers/mapper.h"
#include "engine/backend.h"
#include "engine/volume_spec.h"

namespace berth::engine {

inline Attachment ToAttachment(const rbd::MappedDevice& mapped, const VolumeSpec& spec,
                               bool locked) {
  return {mapped.device,
          {{"mapper", mapped.mapper},
           {"pid", mapped.pid},
           {"fuse_dir", mapped.fuse_dir},
           {"pool", spec.pool},
           {"image", spec.image},
           {"locked", locked}}};
}

inline rbd::MappedDevice MappedOf(const Attachment& attachment) {
  const auto& part = attachment.backend;
  if (!part.is_object()) {
    return {};
  }
  return {part.value("mapper", ""),   attachment.device,      part.value("pid", 0),
          part.value("fuse_dir", ""), part.value("pool", ""), part.value("image", "")};
}

inline bool AttachmentHoldsLock(const Attachment& attachment) {
  return attachment.backend.is_object() && attachment.backend.value("locked", false);
}

}  // namespace berth::engine
