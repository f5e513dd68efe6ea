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

nlohmann::json StateToJson(const HostVolumeState& state) {
  return {{"name", state.name},
          {"backend", state.backend},
          {"read_only", state.read_only},
          {"attachment", state.attachment},
          {"mount_path", state.mount_path},
          {"refs", state.refs},
          {"attaching", state.attaching},
          {"detach_pending", state.detach_pending},
          {"staged", state.staged},
          {"alias", state.alias},
          {"fresh_filesystem", state.fresh_filesystem}};
}

HostVolumeState StateFromJson(const nlohmann::json& json) {
  HostVolumeState state;
  state.name = json.at("name").get<std::string>();
  state.backend = json.value("backend", "");
  state.read_only = json.value("read_only", false);
  state.attachment = json.value("attachment", nlohmann::json::object());
  if (!state.attachment.is_object()) {
    state.attachment = nlohmann::json::object();  // an attach still under way wrote null
  }
  state.mount_path = json.value("mount_path", "");
  state.refs = json.value("refs", std::map<std::string, int>{});
  state.attaching = json.value("attaching", false);
  state.detach_pending = json.value("detach_pending", false);
  state.staged = json.value("staged", false);
  state.alias = json.value("alias", "");
  state.fresh_filesystem = json.value("fresh_filesystem", false);
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

}  // namespace berth::engine
