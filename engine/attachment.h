// A volume's attachment on this host, as saved in its host state so that any later process can
// detach it. The engine reads only `device`; `backend` is the backend's own part (mapper, pid,
// lock), which only the backend that wrote it reads.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace berth::engine {

struct Attachment {
  std::string device;  // the block device to format and mount; empty for file backends
  nlohmann::json backend = nlohmann::json::object();

  bool empty() const { return device.empty() && (!backend.is_object() || backend.empty()); }
  bool operator==(const Attachment&) const = default;
};

// Saved as one object, {"device": ..., <the backend's keys>}, as berth has always written it,
// so state files of older and newer berths read alike. An attach under way saves {} (or null).
nlohmann::json AttachmentToJson(const Attachment& attachment);
Attachment AttachmentFromJson(const nlohmann::json& json);

}  // namespace berth::engine
