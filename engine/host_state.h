// This host's view of a volume: its attachment and the mount references held on it, stored in
// <state_dir>/volumes/<name>.json so that a restarted berthd loses nothing.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::engine {

struct HostVolumeState {
  std::string name;
  std::string backend;
  bool read_only = false;
  nlohmann::json attachment = nlohmann::json::object();  // backend-specific: mapper, device, ...
  std::string mount_path;                                // empty until the filesystem is mounted
  std::map<std::string, int> refs;  // Docker mount ID or kubelet target path -> count
  // Saved before the backend attaches, so a process that dies mid-attach leaves a record of
  // what may now be locked, mapped or mounted; whoever finds it set undoes that attach.
  bool attaching = false;
  // The filesystem is unmounted and no reference is left, but the device is still mapped
  // (and locked): the detach runs after the reply. Whoever takes the volume lock next and
  // finds this set finishes the detach first.
  bool detach_pending = false;
  // Kubernetes' two-step node flow: the volume was attached (and maybe mounted at kubelet's
  // global mount path) by berth-flex's waitforattach/mountdevice. It stays attached when its
  // last pod reference goes, until unmountdevice or detach.
  bool staged = false;
  std::string alias;  // kubelet's name for the volume (pvOrVolumeName), for detach
  // This attachment made the filesystem and nobody has set its root's group yet (fsGroup).
  bool fresh_filesystem = false;

  int TotalRefs() const;
  void AddRef(const std::string& id) { ++refs[id]; }
  // Drops one reference; false when `id` held none.
  bool ReleaseRef(const std::string& id);
};

class HostStateStore {
 public:
  explicit HostStateStore(const std::string& state_dir);

  std::optional<HostVolumeState> Load(const std::string& name) const;
  // Atomic: temp file, fsync, rename, fsync of the directory.
  void Save(const HostVolumeState& state) const;
  void Erase(const std::string& name) const;
  // Every volume with a state file on this host.
  std::vector<std::string> Names() const;

 private:
  std::string Path(const std::string& name) const;
  std::string dir_;
};

nlohmann::json StateToJson(const HostVolumeState& state);
HostVolumeState StateFromJson(const nlohmann::json& json);

}  // namespace berth::engine
