// Kubernetes' two-step node flow: staging (attach, then mount at kubelet's global path),
// publishing (bind mounts per pod, fsGroup on a fresh filesystem) and their undoing.
#include "engine/engine.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/fault.h"
#include "common/step_trace.h"
#include "common/strings.h"
#include "common/undo.h"
#include "engine/volume_lock.h"
#include "engine/volume_spec.h"
#include "fsutil/mountinfo.h"

namespace berth::engine {

std::string Engine::StageAttach(const std::string& name, bool read_only, const std::string& alias) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "stage attach", BusyWait());
  auto [record, backend, state] = FindUsable(name);
  TraceStep("find");
  read_only = read_only || record.spec.read_only;
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
    TraceStep("state write");
  }
  std::string device = state->attachment.device;
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
  auto usable = FindUsable(name);
  TraceStep("find");
  VolumeRecord& record = usable.record;
  Backend* backend = usable.backend;
  auto& state = usable.state;  // captured below: a structured binding could not be
  RefuseRawBlock(record.spec, "be mounted at a staging path");
  read_only = read_only || record.spec.read_only;
  if (state && !state->mount_path.empty()) {
    if (state->mount_path == path) {
      return {path, false};
    }
    throw Error(ErrorCode::kConflict, "volume " + name + " is already mounted on this host at " +
                                          state->mount_path + ", not " + path);
  }
  if (host_->IsMountPoint(path)) {
    // A stage killed between its mount and saving it left this volume's own device mounted at
    // the path: the retry adopts that mount. Anything else there is not berth's to touch.
    const auto mounted = fsutil::FindMount(host_->MountInfo(), path);
    if (!state || state->attachment.device.empty() || !mounted ||
        mounted->source != state->attachment.device) {
      throw Error(ErrorCode::kConflict, "something else is mounted at " + path +
                                            "; unmount it before mounting volume " + name);
    }
    state->mount_path = path;
    state->MoveTo(Phase::kMounted);
    states_.Save(*state);
    spdlog::info("stage-mount {}: adopted its mount of {} at {}, left by an interrupted stage",
                 name, state->attachment.device, path);
    return {path, false};
  }
  if (!state) {
    state = AttachNew(*backend, record, read_only, true);
  }
  if (state->attachment.device.empty()) {
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
  spdlog::info("stage-mount {}: {} at {}{}", name, state->attachment.device, path,
               formatted ? " after formatting" : "");
  return {path, formatted};
}

void Engine::Unstage(const std::string& path, const std::string& volume) {
  // The volume staged at `path`, or one whose stage was killed between mounting its device there
  // and saving that (kubelet may unstage such an "uncertain" mount instead of retrying it).
  const auto mounted = fsutil::FindMount(host_->MountInfo(), path);
  const auto staged_here = [&](const HostVolumeState& s) {
    return s.staged && (s.mount_path == path ||
                        (s.mount_path.empty() && mounted && !s.attachment.device.empty() &&
                         mounted->source == s.attachment.device));
  };
  auto name = FindState(staged_here);
  if (!volume.empty() && name != volume) {
    if (host_->IsMountPoint(path)) {
      throw Error(ErrorCode::kConflict, path + " is mounted, but not as volume " + volume +
                                            "'s staging; it is left alone");
    }
    spdlog::info("unstage {}: volume {} is not staged there, nothing to do", path, volume);
    return;
  }
  if (!name) {
    if (host_->IsMountPoint(path)) {
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
  if (!state || !staged_here(*state)) {
    return;  // another process unstaged it meanwhile
  }
  state->mount_path = path;
  std::vector<std::string> in_use;
  for (auto it = state->refs.begin(); it != state->refs.end();) {
    if (host_->IsMountPoint(it->first)) {
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
  if (state->TotalRefs() > 0 || host_->IsMountPoint(state->mount_path)) {
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
  FaultPoint("publish.referenced");
  auto lock = std::make_optional<VolumeLock>(config_.state_dir, name, "publish", BusyWait());
  auto state = states_.Load(name);
  if (!state || !state->refs.contains(target)) {
    throw Error(ErrorCode::kUnavailable,
                "volume " + name + " was unmounted while it was being published; retry");
  }
  if (host_->IsMountPoint(target)) {
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
  host_->BindMount(state->mount_path, target, read_only || state->read_only);
  spdlog::info("publish {}: {} at {}", name, state->mount_path, target);
  return {target, result.formatted};
}

MountResult Engine::PublishBlock(const std::string& name, const std::string& target,
                                 bool read_only) {
  ValidateVolumeName(name);
  if (target.empty() || target.front() != '/') {
    throw Error(ErrorCode::kInvalidArgument, "target '" + target + "' must be an absolute path");
  }
  VolumeLock lock(config_.state_dir, name, "publish block", BusyWait());
  auto usable = FindUsable(name);
  if (!usable.record.spec.block) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + name + " is a filesystem volume; publish it as a mount, not a device");
  }
  auto& state = usable.state;
  if (!state || !state->staged || state->attachment.device.empty()) {
    throw Error(ErrorCode::kConflict,
                "block volume " + name + " is not staged on this host; stage it first");
  }
  if (host_->IsMountPoint(target)) {
    state->refs[target] = 1;  // a retried publish that had worked
    states_.Save(*state);
    return {target, false};
  }
  state->AddRef(target);
  states_.Save(*state);
  UndoOnFailure undo("block publish of volume " + name);
  undo.Add([&] {
    state->ReleaseRef(target);
    states_.Save(*state);
  });
  host_->BindMount(state->attachment.device, target, read_only || state->read_only);
  spdlog::info("publish {}: device {} at {}", name, state->attachment.device, target);
  return {target, false};
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
    if (host_->IsMountPoint(target)) {
      spdlog::warn("unpublish {}: no volume references it; unmounting it anyway", target);
      host_->Unmount(target);
    }
    return;
  }
  {
    VolumeLock lock(config_.state_dir, *name, "unpublish", BusyWait());
    host_->Unmount(target);
    FaultPoint("unpublish.unmounted");
    auto state = states_.Load(*name);
    if (state && state->refs.contains(target)) {
      state->refs[target] = 1;  // one bind mount per target, however often kubelet retried
      states_.Save(*state);
    }
  }
  Unmount(*name, target);
}

}  // namespace berth::engine
