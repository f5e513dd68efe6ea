#include "engine/volume_record.h"

#include <ctime>

#include "common/error.h"

namespace berth::engine {

std::string RecordToString(const VolumeRecord& record) {
  nlohmann::json json = {{"version", 1},
                         {"spec", SpecToJson(record.spec)},
                         {"created_at", record.created_at},
                         {"created_by", record.created_by},
                         {"formatted_at", record.formatted_at},
                         {"formatted_by", record.formatted_by},
                         {"grow_pending", record.grow_pending},
                         {"cloned_from", record.cloned_from}};
  return json.dump();
}

VolumeRecord RecordFromString(const std::string& name, const std::string& text) {
  try {
    auto json = nlohmann::json::parse(text);
    VolumeRecord record;
    record.spec = SpecFromJson(json.at("spec"));
    record.created_at = json.value("created_at", "");
    record.created_by = json.value("created_by", "");
    record.formatted_at = json.value("formatted_at", "");
    record.formatted_by = json.value("formatted_by", "");
    record.grow_pending = json.value("grow_pending", false);
    record.cloned_from = json.value("cloned_from", "");
    return record;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInternal,
                "registry entry of volume " + name + " is corrupt: " + e.what());
  }
}

std::string NowRfc3339() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace berth::engine
