#include "engine/volume_status.h"

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
  if (!spec.pool.empty()) {
    status["pool"] = spec.pool;
    status["image"] = spec.image;
    status["adopted"] = spec.adopted;
  }
  if (!info.holders.empty()) {
    nlohmann::json holders = nlohmann::json::array();
    for (const auto& h : info.holders) {
      holders.push_back({{"host", h.host_id}, {"client", h.client}, {"address", h.address}});
    }
    status["held_by"] = holders;
  }
  if (info.local) {
    // An attach in progress has recorded its intent but no attachment yet (null).
    const nlohmann::json& attachment = info.local->attachment;
    auto field = [&](const char* key) {
      return attachment.is_object() ? attachment.value(key, "") : std::string();
    };
    status["attached_here"] = {{"host", host_id},
                               {"mount_path", info.local->mount_path},
                               {"device", field("device")},
                               {"mapper", field("mapper")},
                               {"references", info.local->refs}};
  }
  return status;
}

}  // namespace berth::engine
