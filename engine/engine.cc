#include "engine/engine.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "backends/rbd/keyfile.h"
#include "common/error.h"
#include "common/fault.h"
#include "common/files.h"
#include "common/strings.h"
#include "common/undo.h"
#include "engine/instance_id.h"
#include "engine/nfs_backend.h"
#include "engine/rbd_backend.h"
#include "engine/record_update.h"
#include "engine/volume_lock.h"
#include "engine/volume_spec.h"
#include "fsutil/format_and_mount.h"
#include "fsutil/grow.h"
#include "fsutil/mount.h"
#include "fsutil/mountinfo.h"

namespace berth::engine {

namespace {

Error UnknownBackendType(const std::string& name, const std::string& type) {
  return Error(ErrorCode::kInvalidArgument,
               "backend '" + name + "' has unknown type '" + type + "'; use rbd or nfs");
}

}  // namespace

std::map<std::string, std::unique_ptr<Backend>> MakeBackends(const Config& config) {
  ValidateBackends(config);  // a refused config writes nothing, not even the instance id
  std::map<std::string, std::unique_ptr<Backend>> backends;
  std::string instance_id;
  for (const auto& [name, backend] : config.backends) {
    if (instance_id.empty() && (backend.type == "rbd" || backend.type == "nfs")) {
      instance_id = LoadOrCreateInstanceId(config.state_dir);
    }
    if (backend.type == "rbd") {
      backends[name] =
          std::make_unique<RbdBackend>(ParseRbdSettings(backend), config.host_id, instance_id);
    } else if (backend.type == "nfs") {
      backends[name] =
          std::make_unique<NfsBackend>(ParseNfsSettings(backend), config.host_id, instance_id);
    } else {
      throw UnknownBackendType(name, backend.type);
    }
  }
  return backends;
}

void ValidateBackends(const Config& config) {
  for (const auto& [name, backend] : config.backends) {
    if (backend.type == "rbd") {
      ParseRbdSettings(backend);
    } else if (backend.type == "nfs") {
      ParseNfsSettings(backend);
    } else {
      throw UnknownBackendType(name, backend.type);
    }
    // The volume defaults a backend sets (default_size, default_fstype, features, pool,
    // on_remove) pass the checks every create applies, or no create could ever succeed.
    try {
      ParseVolumeSpec("config-check", {{"backend", name}}, config);
    } catch (const Error& e) {
      throw Error(
          ErrorCode::kInvalidArgument,
          "backend '" + name + "': a volume with its defaults would be refused: " + e.what());
    }
  }
}

namespace {

// state_dir and mount_root as real paths, created if missing. Mountinfo shows real paths: with
// a symlink in either, berth's own live mounts would look gone, and the next Mount would tear
// down the mount a container is using. mount_root is 0700: only root walks to the volumes'
// data on the host; containers reach it through their own bind mounts.
Config WithRealPaths(Config config) {
  MakeDirectories(config.state_dir, 0700);
  MakeDirectories(config.mount_root, 0700);
  config.state_dir = RealPath(config.state_dir);
  config.mount_root = RealPath(config.mount_root);
  struct stat st {};
  if (::stat(config.mount_root.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    if (::chmod(config.mount_root.c_str(), 0700) != 0) {
      throw ErrnoError(-errno, "cannot make mount_root " + config.mount_root + " private (0700)");
    }
  }
  return config;
}

// Lookups across backends skip a backend that may come back by itself (down, or not answering
// in time), so that one outage leaves the other backends' volumes reachable.
bool MayHeal(const Error& e) {
  return e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kDeadlineExceeded;
}

// A backend's failure that is not an outage, with the backend named; a refusal of berth's
// credentials also says what to check. The code and the errno stay.
Error NamingBackend(const std::string& backend_name, const Error& e) {
  if (e.code() != ErrorCode::kPermissionDenied) {
    return e;
  }
  return Error(e.code(),
               "backend " + backend_name + " refused berth's access: " + e.what() +
                   " (check the key and caps of its Ceph user, or the NFS export's permissions; "
                   "docs/operations.md lists what berth needs)",
               e.system_errno());
}

}  // namespace

Engine::Engine(const Config& config) : Engine(config, MakeBackends(config)) {}

Engine::Engine(Config config, std::map<std::string, std::unique_ptr<Backend>> backends)
    : config_(WithRealPaths(std::move(config))),
      backends_(std::move(backends)),
      states_(config_.state_dir) {
  // Left by a process killed while a mapper started (its key file lives only that long).
  rbd::SweepOrphanedKeyFiles(config_.state_dir + "/attach");
}

Backend& Engine::BackendFor(const std::string& backend_name) {
  auto it = backends_.find(backend_name);
  if (it == backends_.end()) {
    throw Error(ErrorCode::kInvalidArgument, "unknown backend '" + backend_name + "'");
  }
  return *it->second;
}

std::string Engine::MountPath(const std::string& name) const {
  return config_.mount_root + "/" + name;
}

std::string Engine::WorkDir(const std::string& name) const {
  return config_.state_dir + "/attach/" + name;
}

std::optional<std::pair<VolumeRecord, Backend*>> Engine::Find(const std::string& name) {
  // The default backend first: most volumes live there, and asking it first keeps the others
  // (perhaps a slow NFS server) off the common path.
  std::vector<std::pair<const std::string*, Backend*>> order;
  order.emplace_back(&config_.default_backend, &BackendFor(config_.default_backend));
  for (auto& [backend_name, backend] : backends_) {
    if (backend_name != config_.default_backend) {
      order.emplace_back(&backend_name, backend.get());
    }
  }
  std::optional<Error> unavailable;
  for (auto& [backend_name, backend] : order) {
    try {
      if (auto record = backend->Lookup(name)) {
        return std::make_pair(*record, backend);
      }
    } catch (const Error& e) {
      // One backend being down must not make the others' volumes unreachable.
      if (!MayHeal(e)) {
        throw NamingBackend(*backend_name, e);
      }
      spdlog::warn("backend {} is unavailable while looking up {}: {}", *backend_name, name,
                   e.what());
      unavailable = e;
    }
  }
  if (unavailable) {
    throw Error(ErrorCode::kUnavailable,
                "volume " + name +
                    " was not found, and a backend could not be asked: " + unavailable->what(),
                unavailable->system_errno());
  }
  return std::nullopt;
}

std::pair<VolumeRecord, Backend*> Engine::FindOrThrow(const std::string& name) {
  auto found = Find(name);
  if (!found) {
    throw Error(ErrorCode::kNotFound, "volume " + name + " does not exist");
  }
  return std::move(*found);
}

void Engine::Create(const std::string& name, const Options& options) {
  VolumeSpec spec = ParseVolumeSpec(name, options, config_);
  Backend& backend = BackendFor(spec.backend);
  VolumeLock lock(config_.state_dir, name, "create", BusyWait());

  // Decided by one exclusive write: of two hosts creating one name at once, one registers and
  // the other finds the winner's entry on its second pass and treats it as a repeated Create.
  for (int pass = 0;; ++pass) {
    if (auto existing = Find(name)) {
      auto diffs = SpecDifferences(existing->first.spec, options, spec);
      if (!diffs.empty()) {
        throw Error(
            ErrorCode::kConflict,
            "volume " + name + " already exists with a different spec: " + Join(diffs, "; "));
      }
      // A Create that died after registering finishes here.
      existing->second->EnsureStorage(existing->first);
      return;
    }
    if (pass > 0) {
      throw Error(ErrorCode::kUnavailable,
                  "volume " + name + " was registered and removed again meanwhile; retry");
    }
    VolumeRecord record;
    record.spec = spec;
    record.created_at = NowRfc3339();
    record.created_by = config_.host_id;
    backend.CheckNewStorage(record, options.contains("size"));
    ValidateFilesystemSize(record.spec);
    if (!backend.RegisterNew(record)) {
      continue;
    }
    FaultPoint("create.registered");
    {
      UndoOnFailure undo("create of volume " + name);
      undo.Add([&] { backend.Unregister(record); });  // only our entry, as we wrote it
      backend.EnsureStorage(record);
    }
    break;
  }
  FaultPoint("create.storage");
  spdlog::info("created volume {} ({} {} on {})", name, FormatSize(spec.size_bytes), spec.fstype,
               spec.backend);
}

void Engine::Remove(const std::string& name) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "remove", BusyWait());
  auto found = FindOrThrow(name);
  VolumeRecord& record = found.first;
  Backend* backend = found.second;
  auto local = states_.Load(name);
  if (local && local->TotalRefs() > 0) {
    throw Error(ErrorCode::kBusy, "volume " + name + " is mounted on this host (" +
                                      config_.host_id + ") at " + local->mount_path + " with " +
                                      std::to_string(local->TotalRefs()) +
                                      " reference(s); stop the containers using it first");
  }
  if (local && local->staged) {
    throw Error(ErrorCode::kBusy,
                "volume " + name + " is attached on this host (" + config_.host_id +
                    ") for Kubernetes" +
                    (local->mount_path.empty() ? std::string() : " at " + local->mount_path) +
                    "; delete the pod using it first");
  }
  if (local) {
    // This host's attachment without references: a detach still pending after the last
    // Unmount, or one a crash left behind. Finish it so our own lock does not block removal.
    TearDown(*backend, record, *local);
  }
  if (const auto holders = backend->Holders(record); !holders.empty()) {
    const auto& holder = holders.front();
    throw Error(ErrorCode::kBusy, "volume " + name + " is attached on host " +
                                      (holder.host_id.empty() ? "unknown" : holder.host_id) + " (" +
                                      holder.client + " at " + holder.address +
                                      "); stop it there first");
  }
  backend->DeleteStorage(record);
  FaultPoint("remove.storage_deleted");
  record.stored.clear();  // the storage is gone: the entry goes whatever changed in it
  backend->Unregister(record);
  spdlog::info("removed volume {}", name);
}

std::optional<HostVolumeState> Engine::UsableState(Backend& backend, const VolumeRecord& record) {
  const std::string& name = record.spec.name;
  auto state = states_.Load(name);
  if (!state) {
    return std::nullopt;
  }
  const Condition condition = Classify(*state, Observe(backend, *state));
  if (condition == Condition::kHealthy) {
    return state;
  }
  if (state->staged && state->TotalRefs() > 0 &&
      (condition == Condition::kBroken || condition == Condition::kStale)) {
    throw Error(ErrorCode::kConflict,
                "volume " + name + " is staged for Kubernetes on this host but its mount at " +
                    state->mount_path +
                    " or its device is gone while pods still use it; let kubelet unmount the "
                    "pods, or run `berthctl unmount` after checking");
  }
  if (condition == Condition::kDetachPending) {
    spdlog::info("volume {}: finishing the pending detach before mounting again", name);
  } else if (condition == Condition::kUnfinishedAttach) {
    spdlog::warn("volume {}: undoing an attach that did not finish before mounting", name);
  } else {
    // The mount or the mapping is gone (host reboot, killed mapper): start over cleanly.
    spdlog::warn("volume {} has a stale attachment; cleaning it up before mounting", name);
  }
  TearDown(backend, record, *state);
  return std::nullopt;
}

HostVolumeState Engine::AttachNew(Backend& backend, const VolumeRecord& record, bool read_only,
                                  bool staged) {
  const std::string& name = record.spec.name;
  if (fsutil::IsMountPoint(MountPath(name))) {
    // Not ours (we hold no state for it), so a cleanup must never unmount it.
    throw Error(ErrorCode::kConflict, "something else is mounted at " + MountPath(name) +
                                          "; unmount it before mounting volume " + name);
  }
  const std::string work_dir = WorkDir(name);
  // Both get mounts: a symlink planted at either would redirect one outside (issue 7).
  MakeMountDirectories(config_.mount_root, name, 0755);
  MakeMountDirectories(config_.state_dir, "attach/" + name, 0700);
  HostVolumeState state;
  state.name = name;
  state.backend = record.spec.backend;
  state.read_only = read_only;
  state.staged = staged;
  state.phase = Phase::kAttaching;
  states_.Save(state);  // a crash from here on leaves a record of what to undo
  FaultPoint("mount.intent");
  Attachment attachment;
  {
    UndoOnFailure undo("attach of volume " + name);
    undo.Add([&] { UndoAttach(backend, record, state); });
    attachment = backend.Attach(record, read_only, work_dir, MountPath(name));
  }
  state.attachment = attachment.state;
  if (attachment.mounted) {
    state.mount_path = MountPath(name);
  }
  state.MoveTo(attachment.mounted ? Phase::kMounted : Phase::kAttached);
  states_.Save(state);  // from here on, any process can detach it
  FaultPoint("mount.attached");
  return state;
}

bool Engine::MountAttached(Backend& backend, VolumeRecord& record, HostVolumeState& state,
                           const std::string& mount_point) {
  fsutil::FormatAndMountRequest request;
  request.volume = record.spec.name;
  request.device = state.attachment.value("device", "");
  request.mount_point = mount_point;
  request.fstype = record.spec.fstype;
  request.mkfs_options = SplitWords(record.spec.mkfs_options);
  if (!record.spec.mount_options.empty()) {
    request.mount_options = Split(record.spec.mount_options, ',');
  }
  // After the user's, so they win: no device files, and no set-user-ID unless the volume asks.
  request.mount_options.emplace_back("nodev");
  if (!record.spec.suid) {
    request.mount_options.emplace_back("nosuid");
  }
  request.read_only = state.read_only;
  request.recorded_formatted = record.formatted();
  if (record.grow_pending && record.formatted() && !state.read_only) {
    fsutil::GrowUnmountedFilesystem(record.spec.fstype, request.device);
    ChangeRecord(backend, record, [](VolumeRecord& r) { r.grow_pending = false; });
  }
  auto outcome = fsutil::FormatAndMount(request, [&] {
    FaultPoint("mount.formatted");
    const std::string now = NowRfc3339();
    ChangeRecord(backend, record, [&](VolumeRecord& r) {
      r.formatted_at = now;
      r.formatted_by = config_.host_id;
    });
    FaultPoint("mount.recorded");
  });
  FaultPoint("mount.mounted");
  const bool formatted = outcome == fsutil::FormatOutcome::kFormattedNew;
  state.mount_path = mount_point;
  state.fresh_filesystem = formatted;
  state.MoveTo(Phase::kMounted);
  states_.Save(state);
  return formatted;
}

MountResult Engine::Mount(const std::string& name, const std::string& ref_id, bool read_only) {
  ValidateVolumeName(name);
  if (ref_id.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "mount of volume " + name + " needs a reference id");
  }
  VolumeLock lock(config_.state_dir, name, "mount", BusyWait());
  // Logged under the volume lock, so overlapping begin/end pairs in the log show real
  // parallelism across volumes.
  spdlog::info("mount {} ({}) begins", name, ref_id);
  auto found = FindOrThrow(name);
  VolumeRecord& record = found.first;
  Backend* backend = found.second;

  if (auto state = UsableState(*backend, record)) {
    if (state->mount_path.empty()) {
      throw Error(ErrorCode::kConflict, "volume " + name +
                                            " is attached for Kubernetes on this host and "
                                            "not mounted yet; retry once its pod has started");
    }
    if (state->read_only && !read_only && !record.spec.read_only) {
      throw Error(ErrorCode::kConflict,
                  "volume " + name + " is mounted read-only on this host; unmount its " +
                      std::to_string(state->TotalRefs()) +
                      " read-only reference(s) before mounting it read-write");
    }
    state->AddRef(ref_id);
    states_.Save(*state);
    spdlog::info("mount {} ({}) ends: already mounted, {} reference(s)", name, ref_id,
                 state->TotalRefs());
    return {state->mount_path, false};
  }

  HostVolumeState state = AttachNew(*backend, record, read_only || record.spec.read_only, false);
  if (!state.mount_path.empty()) {  // the backend mounted it (NFS)
    state.AddRef(ref_id);
    states_.Save(state);
    spdlog::info("mount {} ({}) ends: mounted at {}", name, ref_id, state.mount_path);
    return {state.mount_path, false};
  }
  UndoOnFailure undo("mount of volume " + name);
  undo.Add([&] { TearDown(*backend, record, state); });
  const bool formatted = MountAttached(*backend, record, state, MountPath(name));
  state.AddRef(ref_id);
  states_.Save(state);
  FaultPoint("mount.referenced");
  spdlog::info("mount {} ({}) ends: mounted at {}{}", name, ref_id, state.mount_path,
               formatted ? " after formatting" : "");
  return {state.mount_path, formatted};
}

void Engine::TearDown(Backend& backend, const VolumeRecord& record, const HostVolumeState& state) {
  if (state.phase == Phase::kAttaching) {
    UndoAttach(backend, record, state);
    return;
  }
  fsutil::Unmount(state.mount_path.empty() ? MountPath(record.spec.name) : state.mount_path);
  backend.Detach(record, state.attachment);
  FaultPoint("detach.released");
  states_.Erase(record.spec.name);
}

void Engine::UndoAttach(Backend& backend, const VolumeRecord& record,
                        const HostVolumeState& state) {
  const std::string& name = record.spec.name;
  // The attach never recorded a reference, so nothing can be using a mount it made.
  fsutil::Unmount(MountPath(name));
  backend.UndoAttach(record, state.read_only, WorkDir(name));
  states_.Erase(name);
  spdlog::info("volume {}: undid an attach that did not finish", name);
}

void Engine::Unmount(const std::string& name, const std::string& ref_id) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "unmount", BusyWait());
  auto state = states_.Load(name);
  if (!state) {
    spdlog::warn("unmount of {} ({}): volume is not mounted on this host; nothing to do", name,
                 ref_id);
    return;
  }
  if (!state->ReleaseRef(ref_id)) {
    spdlog::warn("unmount of {} ({}): unknown reference; {} reference(s) remain", name, ref_id,
                 state->TotalRefs());
    return;
  }
  if (state->TotalRefs() > 0 || state->staged) {
    // A staged volume stays mounted at kubelet's path until kubelet unstages it.
    states_.Save(*state);
    spdlog::info("unmount {} ({}): {} reference(s) remain", name, ref_id, state->TotalRefs());
    return;
  }
  if (detach_executor_) {
    fsutil::Unmount(state->mount_path);
    FaultPoint("unmount.unmounted");
    state->mount_path.clear();
    state->MoveTo(Phase::kDetaching);
    states_.Save(*state);
    FaultPoint("unmount.pending");
    spdlog::info("unmount {} ({}): unmounted; detaching in the background", name, ref_id);
    detach_executor_([this, name] { FinishDetach(name); });
    return;
  }
  auto found = Find(name);
  if (!found) {
    throw Error(ErrorCode::kNotFound,
                "volume " + name + " is mounted here but missing from the registry; unmount " +
                    state->mount_path + " by hand");
  }
  TearDown(*found->second, found->first, *state);
  spdlog::info("unmount {} ({}): unmounted and detached", name, ref_id);
}

void Engine::FinishDetach(const std::string& name) {
  try {
    VolumeLock lock(config_.state_dir, name, "finish detach", BusyWait());
    auto state = states_.Load(name);
    if (!state ||
        (state->phase != Phase::kDetaching && (state->TotalRefs() > 0 || state->staged))) {
      return;  // a Mount came first and already finished it, or kubelet owns it
    }
    auto found = Find(name);
    if (!found) {
      spdlog::error("volume {} vanished from the registry; its device {} stays mapped", name,
                    state->attachment.value("device", "?"));
      return;
    }
    TearDown(*found->second, found->first, *state);
    spdlog::info("volume {}: detached", name);
  } catch (const std::exception& e) {
    spdlog::error(
        "background detach of volume {} failed: {}; the next mount or berthd start "
        "retries it",
        name, e.what());
  }
}

std::vector<Engine::ReconcileAction> Engine::Reconcile() {
  std::vector<ReconcileAction> actions;
  for (const auto& name : states_.Names()) {
    try {
      VolumeLock lock(config_.state_dir, name, "reconcile", BusyWait());
      if (auto action = ReconcileVolume(name)) {
        spdlog::info("reconcile: volume {}: {}", name, action->detail);
        actions.push_back(std::move(*action));
      }
    } catch (const std::exception& e) {
      spdlog::error("reconcile: volume {}: {}; left as it is", name, e.what());
      actions.push_back({name, ReconcileAction::Kind::kFailed, e.what()});
    }
  }
  return actions;
}

std::optional<Engine::ReconcileAction> Engine::ReconcileVolume(const std::string& name) {
  using Kind = ReconcileAction::Kind;
  auto state = states_.Load(name);
  if (!state) {
    return std::nullopt;  // another process finished with it meanwhile
  }
  const auto backend_it = backends_.find(state->backend);
  if (backend_it == backends_.end()) {
    return ReconcileAction{name, Kind::kFailed,
                           "its backend " + state->backend + " is not configured; left as it is"};
  }
  Backend& backend = *backend_it->second;
  const LiveFacts live = Observe(backend, *state);
  const Condition condition = Classify(*state, live);
  const bool referenced = state->TotalRefs() > 0 || state->staged;
  if (condition == Condition::kHealthy && referenced) {
    return ReconcileAction{name, Kind::kAdopted,
                           "adopted: " + std::to_string(state->TotalRefs()) + " reference(s)" +
                               (live.mounted ? " on " + state->mount_path : "")};
  }
  if (condition == Condition::kBroken) {
    // Its mapper or mounter died under live mounts: I/O fails until they go, and unmounting
    // them here would pull the filesystem from under running containers.
    return ReconcileAction{name, Kind::kBroken,
                           "mounted with " + std::to_string(state->TotalRefs()) +
                               " reference(s) but its attachment is gone; I/O on it fails until "
                               "its containers stop. Left mounted"};
  }
  // Nothing can be using it: an attach that never finished, a pending detach, no reference, or
  // references whose mounts are all gone (the host restarted, or they were unmounted by hand).
  auto found = Find(name);
  if (!found) {
    return ReconcileAction{name, Kind::kFailed,
                           "not in any registry any more; its attachment " +
                               state->attachment.dump() + " is left for an operator"};
  }
  const std::string what =
      condition == Condition::kUnfinishedAttach ? "undid an attach that did not finish"
      : condition == Condition::kDetachPending  ? "finished a pending detach"
      : !referenced                             ? "released an attachment without references"
                    : "released stale references (nothing is mounted any more)";
  TearDown(*found->second, found->first, *state);
  return ReconcileAction{name, Kind::kReleased, what};
}

LiveFacts Engine::Observe(Backend& backend, const HostVolumeState& state) const {
  LiveFacts live;
  live.attachment_alive = state.phase != Phase::kAttaching &&
                          backend.AttachmentHealthy(state.attachment, state.mount_path);
  live.mounted = !state.mount_path.empty() && fsutil::IsMountPoint(state.mount_path);
  for (const auto& [ref, count] : state.refs) {
    if (ref.starts_with("/") && fsutil::IsMountPoint(ref)) {
      live.pod_target_mounted = true;  // a kubelet pod directory bind-mounted from the volume
      break;
    }
  }
  return live;
}

std::optional<std::string> Engine::FindState(
    const std::function<bool(const HostVolumeState&)>& matches) const {
  for (const auto& name : states_.Names()) {
    try {
      if (auto state = states_.Load(name); state && matches(*state)) {
        return name;
      }
    } catch (const Error& e) {
      spdlog::warn("skipping host state of {}: {}", name, e.what());
    }
  }
  return std::nullopt;
}

std::string Engine::StageAttach(const std::string& name, bool read_only, const std::string& alias) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "stage attach", BusyWait());
  auto found = FindOrThrow(name);
  VolumeRecord& record = found.first;
  Backend* backend = found.second;
  read_only = read_only || record.spec.read_only;
  auto state = UsableState(*backend, record);
  if (state) {
    if (state->read_only && !read_only) {
      throw Error(ErrorCode::kConflict,
                  "volume " + name + " is attached read-only on this host; it cannot be " +
                      "attached read-write until its read-only users are gone");
    }
    if (!state->staged || (!alias.empty() && state->alias != alias)) {
      state->staged = true;
      state->alias = alias.empty() ? state->alias : alias;
      states_.Save(*state);
    }
  } else {
    state = AttachNew(*backend, record, read_only, true);
    state->alias = alias;
    states_.Save(*state);
  }
  std::string device = state->attachment.value("device", "");
  if (device.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + name + " is not a block volume (backend " + record.spec.backend +
                    "); it has no device to attach; mount it directly");
  }
  spdlog::info("stage-attach {}: {} ({})", name, device, read_only ? "ro" : "rw");
  return device;
}

MountResult Engine::StageMount(const std::string& name, const std::string& path, bool read_only) {
  ValidateVolumeName(name);
  if (path.empty() || path.front() != '/') {
    throw Error(ErrorCode::kInvalidArgument, "mount path '" + path + "' must be absolute");
  }
  VolumeLock lock(config_.state_dir, name, "stage mount", BusyWait());
  auto found = FindOrThrow(name);
  VolumeRecord& record = found.first;
  Backend* backend = found.second;
  read_only = read_only || record.spec.read_only;
  auto state = UsableState(*backend, record);
  if (state && !state->mount_path.empty()) {
    if (state->mount_path == path) {
      return {path, false};
    }
    throw Error(ErrorCode::kConflict, "volume " + name + " is already mounted on this host at " +
                                          state->mount_path + ", not " + path);
  }
  if (fsutil::IsMountPoint(path)) {
    throw Error(ErrorCode::kConflict, "something else is mounted at " + path +
                                          "; unmount it before mounting volume " + name);
  }
  if (!state) {
    state = AttachNew(*backend, record, read_only, true);
  }
  if (state->attachment.value("device", "").empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + name + " is not a block volume; it cannot be mounted as a device");
  }
  bool formatted = false;
  {
    // kubelet never calls unmountdevice for a path that is not mounted, and its detach runs on
    // the controller: left attached, the lock would keep the volume off every other node.
    // kubelet's retry attaches again.
    UndoOnFailure undo("stage of volume " + name);
    undo.Add([&] { TearDown(*backend, record, *state); });
    formatted = MountAttached(*backend, record, *state, path);
  }
  spdlog::info("stage-mount {}: {} at {}{}", name, state->attachment.value("device", ""), path,
               formatted ? " after formatting" : "");
  return {path, formatted};
}

void Engine::Unstage(const std::string& path) {
  auto name = FindState([&](const HostVolumeState& s) { return s.staged && s.mount_path == path; });
  if (!name) {
    if (fsutil::IsMountPoint(path)) {
      throw Error(ErrorCode::kNotFound,
                  path +
                      " is mounted but berth has no record of staging a volume there; "
                      "check it with findmnt and unmount it by hand");
    }
    spdlog::info("unstage {}: not mounted, nothing to do", path);
    return;
  }
  VolumeLock lock(config_.state_dir, *name, "unstage", BusyWait());
  auto state = states_.Load(*name);
  if (!state || !state->staged || state->mount_path != path) {
    return;  // another process unstaged it meanwhile
  }
  std::vector<std::string> in_use;
  for (auto it = state->refs.begin(); it != state->refs.end();) {
    if (fsutil::IsMountPoint(it->first)) {
      in_use.push_back(it->first);
      ++it;
    } else {
      spdlog::warn("volume {}: dropping reference {}, which is no longer mounted", *name,
                   it->first);
      it = state->refs.erase(it);
    }
  }
  if (!in_use.empty()) {
    states_.Save(*state);
    throw Error(ErrorCode::kBusy, "volume " + *name + " is still bind-mounted at " +
                                      Join(in_use, ", ") + "; unmount those first");
  }
  auto found = Find(*name);
  if (!found) {
    throw Error(ErrorCode::kNotFound, "volume " + *name + " is staged at " + path +
                                          " but missing from the registry; unmount it by hand");
  }
  TearDown(*found->second, found->first, *state);
  spdlog::info("unstage {}: unmounted {} and detached", *name, path);
}

void Engine::ReleaseAlias(const std::string& alias) {
  auto name = FindState([&](const HostVolumeState& s) { return s.alias == alias; });
  if (!name) {
    spdlog::info("detach {}: nothing attached on this host", alias);
    return;
  }
  VolumeLock lock(config_.state_dir, *name, "release alias", BusyWait());
  auto state = states_.Load(*name);
  if (!state || state->alias != alias) {
    return;
  }
  if (state->TotalRefs() > 0 || fsutil::IsMountPoint(state->mount_path)) {
    throw Error(ErrorCode::kBusy, "volume " + *name + " (" + alias +
                                      ") is still mounted on this host at " +
                                      (state->mount_path.empty() ? "?" : state->mount_path) +
                                      "; kubelet unmounts it before detaching");
  }
  auto found = Find(*name);
  if (!found) {
    throw Error(ErrorCode::kNotFound,
                "volume " + *name + " is attached here but missing from the registry");
  }
  TearDown(*found->second, found->first, *state);
  spdlog::info("detach {}: volume {} detached", alias, *name);
}

MountResult Engine::Publish(const std::string& name, const std::string& target, bool read_only,
                            std::optional<unsigned> fs_group) {
  ValidateVolumeName(name);
  if (target.empty() || target.front() != '/') {
    throw Error(ErrorCode::kInvalidArgument, "target '" + target + "' must be an absolute path");
  }
  MountResult result;
  if (!AddStagedRef(name, target, read_only, result)) {
    result = Mount(name, target, read_only);
  }
  auto lock = std::make_optional<VolumeLock>(config_.state_dir, name, "publish", BusyWait());
  auto state = states_.Load(name);
  if (!state || !state->refs.contains(target)) {
    throw Error(ErrorCode::kUnavailable,
                "volume " + name + " was unmounted while it was being published; retry");
  }
  if (fsutil::IsMountPoint(target)) {
    // kubelet retried a mount that had worked: keep one reference per target.
    state->refs[target] = 1;
    states_.Save(*state);
    return {target, result.formatted};
  }
  UndoOnFailure undo("publish of volume " + name);
  undo.Add([&] {
    lock.reset();
    Unmount(name, target);  // drops the reference Mount added (and detaches if it was the last)
  });
  if (fs_group && state->fresh_filesystem && !state->read_only) {
    if (::chown(state->mount_path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(*fs_group)) !=
            0 ||
        ::chmod(state->mount_path.c_str(), 02775) != 0) {
      throw ErrnoError(-errno, "cannot give the root of volume " + name + " to group " +
                                   std::to_string(*fs_group));
    }
    state->fresh_filesystem = false;
    states_.Save(*state);
    spdlog::info("volume {}: root directory given to group {} (fsGroup)", name, *fs_group);
  }
  fsutil::BindMount(state->mount_path, target, read_only || state->read_only);
  spdlog::info("publish {}: {} at {}", name, state->mount_path, target);
  return {target, result.formatted};
}

bool Engine::AddStagedRef(const std::string& name, const std::string& target, bool read_only,
                          MountResult& result) {
  VolumeLock lock(config_.state_dir, name, "publish", BusyWait());
  auto state = states_.Load(name);
  // Anything but a healthy staged mount: Mount decides, with the registry at hand.
  if (!state || !state->staged || (state->read_only && !read_only) ||
      !backends_.contains(state->backend)) {
    return false;
  }
  const LiveFacts live = Observe(BackendFor(state->backend), *state);
  if (Classify(*state, live) != Condition::kHealthy || !live.mounted) {
    return false;
  }
  state->AddRef(target);
  states_.Save(*state);
  result = {state->mount_path, false};
  return true;
}

void Engine::Unpublish(const std::string& target) {
  auto name = FindState([&](const HostVolumeState& s) { return s.refs.contains(target); });
  if (!name) {
    if (fsutil::IsMountPoint(target)) {
      spdlog::warn("unpublish {}: no volume references it; unmounting it anyway", target);
      fsutil::Unmount(target);
    }
    return;
  }
  {
    VolumeLock lock(config_.state_dir, *name, "unpublish", BusyWait());
    fsutil::Unmount(target);
    auto state = states_.Load(*name);
    if (state && state->refs.contains(target)) {
      state->refs[target] = 1;  // one bind mount per target, however often kubelet retried
      states_.Save(*state);
    }
  }
  Unmount(*name, target);
}

std::map<std::string, uint64_t> Engine::FencedClientsReplaced() const {
  std::map<std::string, uint64_t> counts;
  for (const auto& [name, backend] : backends_) {
    counts[name] = backend->FencedClientsReplaced();
  }
  return counts;
}

uint64_t Engine::GrowStorage(const std::string& name, uint64_t size) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "grow storage", BusyWait());
  auto found = FindOrThrow(name);
  VolumeRecord& record = found.first;
  Backend* backend = found.second;
  if (size < record.spec.size_bytes) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + name + " is " + FormatSize(record.spec.size_bytes) +
                    "; shrinking it to " + FormatSize(size) +
                    " would destroy data, and berth never shrinks a volume");
  }
  if (size > kMaxVolumeBytes) {
    throw Error(ErrorCode::kInvalidArgument,
                "size " + std::to_string(size) + " bytes is over the 1 PiB limit");
  }
  backend->Grow(record, size);
  if (record.spec.size_bytes != size) {
    ChangeRecord(*backend, record, [size](VolumeRecord& r) {
      r.spec.size_bytes = std::max(r.spec.size_bytes, size);
    });
  }
  if (auto state = states_.Load(name); state && !state->attachment.empty()) {
    backend->RefreshAttachment(record, state->attachment, size);
  }
  spdlog::info("volume {}: storage grown to {}", name, FormatSize(size));
  return size;
}

void Engine::GrowFilesystem(const std::string& name) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "grow filesystem", BusyWait());
  auto found = FindOrThrow(name);
  const VolumeRecord& record = found.first;
  auto state = states_.Load(name);
  if (!state || !fsutil::IsMountPoint(state->mount_path)) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + name + " is not mounted on this host; its filesystem grows when " +
                    "it is mounted here");
  }
  if (state->read_only) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + name + " is mounted read-only here; grow it where it is read-write");
  }
  const std::string device = state->attachment.value("device", "");
  if (device.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + name + " has no filesystem of its own to grow (an NFS directory)");
  }
  // The storage may have grown on another host (Kubernetes grows it from the controller).
  Backend* backend = found.second;
  VolumeRecord updated = record;
  backend->RefreshAttachment(record, state->attachment, record.spec.size_bytes);
  if (fsutil::GrowFilesystem(record.spec.fstype, device, state->mount_path) ==
      fsutil::GrowOutcome::kGrown) {
    if (updated.grow_pending) {
      ChangeRecord(*backend, updated, [](VolumeRecord& r) { r.grow_pending = false; });
    }
    return;
  }
  ChangeRecord(*backend, updated, [](VolumeRecord& r) { r.grow_pending = true; });
  throw Error(ErrorCode::kPermissionDenied,
              "volume " + name + "'s storage is " + FormatSize(record.spec.size_bytes) +
                  ", but the kernel refused to grow its mounted " + record.spec.fstype +
                  " filesystem (resize2fs needs CAP_SYS_RESOURCE, which this host withholds); "
                  "it grows before its next mount");
}

VolumeInfo Engine::Get(const std::string& name) {
  ValidateVolumeName(name);
  auto found = FindOrThrow(name);
  return {found.first, states_.Load(name), found.second->Holders(found.first)};
}

std::vector<VolumeInfo> Engine::List() {
  std::vector<VolumeInfo> out;
  for (auto& [backend_name, backend] : backends_) {
    std::vector<VolumeRecord> records;
    try {
      records = backend->List();
    } catch (const Error& e) {
      if (!MayHeal(e)) {
        throw NamingBackend(backend_name, e);
      }
      spdlog::warn("backend {} is unavailable; its volumes are not listed: {}", backend_name,
                   e.what());
    }
    for (auto& record : records) {
      auto local = states_.Load(record.spec.name);
      out.push_back({std::move(record), std::move(local), {}});
    }
  }
  return out;
}

}  // namespace berth::engine
