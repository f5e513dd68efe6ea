// This host's view of a volume: its attachment and the mount references held on it, stored in
// <state_dir>/volumes/<name>.json so that a restarted berthd loses nothing.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/attachment.h"
#include "engine/volume_phase.h"

namespace berth::engine {

struct HostVolumeState {
  std::string name;
  std::string backend;
  bool read_only = false;
  Attachment attachment;
  std::string mount_path;           // empty until the filesystem is mounted
  std::map<std::string, int> refs;  // Docker mount ID or kubelet target path -> count
  // Saved as kAttaching before the backend attaches, so a process that dies mid-attach leaves a
  // record of what may now be locked, mapped or mounted; whoever finds it undoes that attach.
  // kDetaching: unmounted with no reference left, still mapped and locked; whoever takes the
  // volume lock next finishes the detach first.
  Phase phase = Phase::kAttaching;
  // Kubernetes' two-step node flow: the volume was attached (and maybe mounted at kubelet's
  // global mount path) by berth-flex's waitforattach/mountdevice. It stays attached when its
  // last pod reference goes, until unmountdevice or detach.
  bool staged = false;
  std::string alias;  // kubelet's name for the volume (pvOrVolumeName), for detach
  // This attachment made the filesystem and nobody has set its root's group yet (fsGroup).
  bool fresh_filesystem = false;
  // kLingering: when the linger ends, in milliseconds since the Unix epoch (a wall clock, so
  // that any process on the host can read it).
  int64_t linger_until_ms = 0;

  // Moves to `to`; an illegal move is an internal error naming both phases.
  void MoveTo(Phase to);
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
