#include "engine/host_state.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/error.h"
#include "common/files.h"

namespace berth::engine {

int HostVolumeState::TotalRefs() const {
  int total = 0;
  for (const auto& [id, count] : refs) {
    total += count;
  }
  return total;
}

bool HostVolumeState::ReleaseRef(const std::string& id) {
  auto it = refs.find(id);
  if (it == refs.end()) {
    return false;
  }
  if (--it->second <= 0) {
    refs.erase(it);
  }
  return true;
}

void HostVolumeState::MoveTo(Phase to) {
  if (!TransitionAllowed(phase, to)) {
    throw Error(ErrorCode::kInternal, "volume " + name + " cannot move from phase " +
                                          std::string(PhaseName(phase)) + " to " +
                                          std::string(PhaseName(to)) + " (a bug in berth)");
  }
  phase = to;
}

nlohmann::json StateToJson(const HostVolumeState& state) {
  return {{"name", state.name},
          {"backend", state.backend},
          {"read_only", state.read_only},
          {"attachment", AttachmentToJson(state.attachment)},
          {"mount_path", state.mount_path},
          {"refs", state.refs},
          {"phase", PhaseName(state.phase)},
          // Kept for a berth from before phases, should a package be downgraded.
          {"attaching", state.phase == Phase::kAttaching},
          {"detach_pending", state.phase == Phase::kDetaching},
          {"staged", state.staged},
          {"alias", state.alias},
          {"fresh_filesystem", state.fresh_filesystem},
          {"linger_until_ms", state.linger_until_ms}};
}

HostVolumeState StateFromJson(const nlohmann::json& json) {
  HostVolumeState state;
  state.name = json.at("name").get<std::string>();
  state.backend = json.value("backend", "");
  state.read_only = json.value("read_only", false);
  if (json.contains("attachment")) {
    state.attachment = AttachmentFromJson(json.at("attachment"));
  }
  state.mount_path = json.value("mount_path", "");
  state.refs = json.value("refs", std::map<std::string, int>{});
  if (json.contains("phase")) {
    const auto name = json.at("phase").get<std::string>();
    const auto phase = PhaseFromName(name);
    if (!phase) {
      // Written by a newer berth: never guess what it may have locked or mapped.
      throw Error(ErrorCode::kInternal, "the state of volume " + state.name +
                                            " has an unknown phase '" + name +
                                            "'; left alone for the berth that wrote it");
    }
    state.phase = *phase;
  } else if (json.value("attaching", false)) {  // a state file from before phases
    state.phase = Phase::kAttaching;
  } else if (json.value("detach_pending", false)) {
    state.phase = Phase::kDetaching;
  } else {
    state.phase = state.mount_path.empty() ? Phase::kAttached : Phase::kMounted;
  }
  state.staged = json.value("staged", false);
  state.alias = json.value("alias", "");
  state.fresh_filesystem = json.value("fresh_filesystem", false);
  state.linger_until_ms = json.value("linger_until_ms", int64_t{0});
  return state;
}

HostStateStore::HostStateStore(const std::string& state_dir) : dir_(state_dir + "/volumes") {
  // Root-only whatever the umask, and tightened if made more open earlier (issue 7).
  MakePrivateDirectory(state_dir);
  MakePrivateDirectory(dir_);
}

std::string HostStateStore::Path(const std::string& name) const {
  return dir_ + "/" + name + ".json";
}

std::optional<HostVolumeState> HostStateStore::Load(const std::string& name) const {
  auto text = ReadFileIfExists(Path(name));
  if (!text) {
    return std::nullopt;
  }
  try {
    return StateFromJson(nlohmann::json::parse(*text));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInternal, "host state " + Path(name) + " is corrupt: " + e.what());
  }
}

void HostStateStore::Save(const HostVolumeState& state) const {
  WriteFileAtomically(Path(state.name), StateToJson(state).dump(2) + "\n");
}

std::vector<std::string> HostStateStore::Names() const {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    const auto& path = entry.path();
    if (path.extension() == ".json") {
      names.push_back(path.stem().string());
    }
  }
  return names;
}

void HostStateStore::Erase(const std::string& name) const {
  if (::unlink(Path(name).c_str()) != 0 && errno != ENOENT) {
    throw ErrnoError(-errno, "cannot remove " + Path(name));
  }
}

nlohmann::json AttachmentToJson(const Attachment& attachment) {
  nlohmann::json json =
      attachment.backend.is_object() ? attachment.backend : nlohmann::json::object();
  if (!attachment.device.empty()) {
    json["device"] = attachment.device;
  }
  return json;
}

Attachment AttachmentFromJson(const nlohmann::json& json) {
  Attachment attachment;
  if (!json.is_object()) {
    return attachment;  // an attach still under way wrote null
  }
  attachment.backend = json;
  if (auto device = json.find("device"); device != json.end()) {
    attachment.device = device->is_string() ? device->get<std::string>() : "";
    attachment.backend.erase("device");
  }
  return attachment;
}

}  // namespace berth::engine
