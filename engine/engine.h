// The volume lifecycle behind every front door: create, remove, mount with references,
// unmount, inspect. Safe to call from many threads and many processes at once.
#pragma once

#include <functional>
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
  std::vector<HolderInfo> holders;       // hosts holding it read-write (Get only)
};

// Runs work elsewhere (a thread pool); see Engine::set_detach_executor.
using Executor = std::function<void(std::function<void()>)>;

class Engine {
 public:
  explicit Engine(const Config& config);
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

  // With an executor, the last Unmount returns once the filesystem is unmounted and hands the
  // unmap and unlock to the executor, so callers (dockerd) are not kept waiting. Without one,
  // Unmount returns after the detach.
  void set_detach_executor(Executor executor) { detach_executor_ = std::move(executor); }
  // Completes detaches a previous process left pending (call at start-up).
  void FinishPendingDetaches();

  // Never wait behind an attach: they take no volume lock.
  VolumeInfo Get(const std::string& name);
  std::vector<VolumeInfo> List();

  const Config& config() const { return config_; }
  Backend& BackendFor(const std::string& backend_name);

 private:
  std::string MountPath(const std::string& name) const;
  std::string WorkDir(const std::string& name) const;
  // Looks the volume up in every backend (the registry is per backend).
  std::optional<std::pair<VolumeRecord, Backend*>> Find(const std::string& name);
  void TearDown(Backend& backend, const VolumeRecord& record, const HostVolumeState& state);
  void FinishDetach(const std::string& name);

  Config config_;
  std::map<std::string, std::unique_ptr<Backend>> backends_;
  HostStateStore states_;
  Executor detach_executor_;
};

}  // namespace berth::engine
