// The volume lifecycle behind every front door: create, remove, mount with references,
// unmount, inspect. Safe to call from many threads and many processes at once.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/config.h"
#include "engine/host_state.h"
#include "engine/volume_spec.h"

namespace berth::engine {

struct MountResult {
  std::string mount_path;
  bool formatted = false;  // true only when this call made the filesystem
};

struct VolumeInfo {
  VolumeRecord record;
  std::optional<HostVolumeState> local;  // this host's attachment and references
};

class Engine {
 public:
  explicit Engine(Config config);
  // For tests: backends supplied by the caller, keyed like config.backends.
  Engine(Config config, std::map<std::string, std::unique_ptr<Backend>> backends);

  // Idempotent: an existing volume with the same options succeeds; different options are
  // kConflict naming each difference. Every option is validated before anything is written.
  void Create(const std::string& name, const Options& options);
  // Refused (kBusy) while the volume is mounted on this host or locked by any host.
  void Remove(const std::string& name);
  // Attach, format if new (see fsutil/format_and_mount.h) and mount, or add a reference to an
  // existing mount. `ref_id` is Docker's mount ID or kubelet's target path. `read_only` asks
  // for a read-only attach (no lock, mounted ro) even if the volume is read-write; a volume
  // created read_only=true is always attached read-only.
  MountResult Mount(const std::string& name, const std::string& ref_id, bool read_only = false);
  // Drops one reference; the last one unmounts and detaches. An unknown volume or reference
  // is logged and ignored so a retrying caller never wedges.
  void Unmount(const std::string& name, const std::string& ref_id);

  // Never wait behind an attach: they take no volume lock.
  VolumeInfo Get(const std::string& name);
  std::vector<VolumeInfo> List();

  const Config& config() const { return config_; }
  Backend& BackendFor(const std::string& backend_name);

 private:
  std::string MountPath(const std::string& name) const;
  std::string WorkDir(const std::string& name) const;
  VolumeRecord Require(const std::string& name);
  // Looks the volume up in every backend (the registry is per backend).
  std::optional<std::pair<VolumeRecord, Backend*>> Find(const std::string& name);
  void TearDown(Backend& backend, const VolumeRecord& record, const HostVolumeState& state);

  Config config_;
  std::map<std::string, std::unique_ptr<Backend>> backends_;
  HostStateStore states_;
};

}  // namespace berth::engine
