#include "engine/volume_status.h"

#include <cstdio>

namespace berth::engine {

nlohmann::json VolumeStatus(const VolumeInfo& info, const std::string& host_id) {
  const auto& spec = info.record.spec;
  nlohmann::json status = {{"name", spec.name},
                           {"backend", spec.backend},
                           {"size", FormatSize(spec.size_bytes)},
                           {"size_bytes", spec.size_bytes},
                           {"fstype", spec.fstype},
                           {"read_only", spec.read_only},
                           {"created_at", info.record.created_at},
                           {"created_by", info.record.created_by},
                           {"formatted_at", info.record.formatted_at},
                           {"formatted_by", info.record.formatted_by}};
  // The options a create set, so that what was asked for can be read back; empty ones are left
  // out.
  auto set_if = [&](const char* key, const std::string& value) {
    if (!value.empty()) {
      status[key] = value;
    }
  };
  set_if("mkfs_options", spec.mkfs_options);
  set_if("mount_options", spec.mount_options);
  if (spec.suid) {
    status["suid"] = true;
  }
  if (!spec.pool.empty()) {
    status["pool"] = spec.pool;
    status["image"] = spec.image;
    status["adopted"] = spec.adopted;
    set_if("features", spec.features);
  }
  if (!spec.subdir.empty()) {
    status["subdir"] = spec.subdir;
    status["uid"] = spec.uid;
    status["gid"] = spec.gid;
    char mode[16];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(spec.mode));
    status["mode"] = mode;
    set_if("on_remove", spec.on_remove);
  }
  if (!info.holders.empty()) {
    nlohmann::json holders = nlohmann::json::array();
    for (const auto& h : info.holders) {
      holders.push_back({{"host", h.host_id}, {"client", h.client}, {"address", h.address}});
    }
    status["held_by"] = holders;
  }
  if (info.local) {
    // The mapper is the rbd backend's part of the attachment; other backends have none.
    const nlohmann::json& part = info.local->attachment.backend;
    const std::string mapper = part.is_object() ? part.value("mapper", "") : "";
    status["attached_here"] = {{"host", host_id},
                               {"mount_path", info.local->mount_path},
                               {"device", info.local->attachment.device},
                               {"mapper", mapper},
                               {"references", info.local->refs}};
  }
  return status;
}

}  // namespace berth::engine
