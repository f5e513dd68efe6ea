// Attach and teardown on this host: reusing a usable attachment, attaching anew with a record
// saved first, formatting-if-new and mounting, and tearing down or undoing an attach.
#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/fault.h"
#include "common/files.h"
#include "common/step_trace.h"
#include "common/strings.h"
#include "common/undo.h"
#include "engine/record_update.h"

namespace berth::engine {

std::optional<HostVolumeState> Engine::UsableState(Backend& backend, const VolumeRecord& record,
                                                   bool reuse_linger) {
  const std::string& name = record.spec.name;
  auto state = states_.Load(name);
  if (!state) {
    return std::nullopt;
  }
  const Condition condition = Classify(*state, Observe(backend, *state));
  if (condition == Condition::kHealthy && (state->phase != Phase::kLingering || reuse_linger)) {
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
  } else if (condition == Condition::kHealthy) {
    spdlog::info("volume {}: ending its linger, to attach it for Kubernetes", name);
  } else if (condition == Condition::kUnfinishedAttach) {
    spdlog::warn("volume {}: undoing an attach that did not finish before mounting", name);
  } else {
    // The mount or the mapping is gone (host reboot, killed mapper): start over cleanly.
    spdlog::warn("volume {} has a stale attachment; cleaning it up before mounting", name);
  }
  TearDown(backend, record, *state);
  return std::nullopt;
}

Engine::UsableVolume Engine::FindUsable(const std::string& name, bool reuse_linger) {
  auto [record, backend] = FindOrThrow(name);
  auto state = UsableState(*backend, record, reuse_linger);
  return {std::move(record), backend, std::move(state)};
}

HostVolumeState Engine::AttachNew(Backend& backend, const VolumeRecord& record, bool read_only,
                                  bool staged) {
  const std::string& name = record.spec.name;
  if (host_->IsMountPoint(MountPath(name))) {
    // Not ours (we hold no state for it), so a cleanup must never unmount it.
    throw Error(ErrorCode::kConflict, "something else is mounted at " + MountPath(name) +
                                          "; unmount it before mounting volume " + name);
  }
  const std::string work_dir = WorkDir(name);
  // Both get mounts: a symlink planted at either would redirect one outside (issue 7).
  MakeMountDirectories(config_.mount_root, name, 0755);
  MakeMountDirectories(config_.state_dir, "attach/" + name, 0700);
  TraceStep("directories");
  HostVolumeState state;
  state.name = name;
  state.backend = record.spec.backend;
  state.read_only = read_only;
  state.staged = staged;
  state.phase = Phase::kAttaching;
  states_.Save(state);  // a crash from here on leaves a record of what to undo
  TraceStep("state write");
  FaultPoint("mount.intent");
  AttachResult attached;
  {
    UndoOnFailure undo("attach of volume " + name);
    undo.Add([&] { UndoAttach(backend, record, state); });
    attached = backend.Attach(record, read_only, work_dir, MountPath(name));
  }
  state.attachment = attached.attachment;
  if (attached.mounted) {
    state.mount_path = MountPath(name);
  }
  state.MoveTo(attached.mounted ? Phase::kMounted : Phase::kAttached);
  states_.Save(state);  // from here on, any process can detach it
  TraceStep("state write");
  FaultPoint("mount.attached");
  return state;
}

bool Engine::MountAttached(Backend& backend, VolumeRecord& record, HostVolumeState& state,
                           const std::string& mount_point) {
  RefuseRawBlock(record.spec, "be formatted or mounted");
  fsutil::FormatAndMountRequest request;
  request.volume = record.spec.name;
  request.device = state.attachment.device;
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
    host_->GrowUnmountedFilesystem(record.spec.fstype, request.device);
    ChangeRecord(backend, record, [](VolumeRecord& r) { r.grow_pending = false; });
  }
  auto outcome = host_->FormatAndMount(request, [&] {
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
  TraceStep("state write");
  return formatted;
}

void Engine::TearDown(Backend& backend, const VolumeRecord& record, const HostVolumeState& state) {
  if (state.phase == Phase::kAttaching) {
    UndoAttach(backend, record, state);
    return;
  }
  host_->Unmount(state.mount_path.empty() ? MountPath(record.spec.name) : state.mount_path);
  TraceStep("unmount");
  backend.Detach(record, state.attachment);
  FaultPoint("detach.released");
  states_.Erase(record.spec.name);
  TraceStep("state write");
}

void Engine::UndoAttach(Backend& backend, const VolumeRecord& record,
                        const HostVolumeState& state) {
  const std::string& name = record.spec.name;
  // The attach never recorded a reference, so nothing can be using a mount it made.
  host_->Unmount(MountPath(name));
  backend.UndoAttach(record, state.read_only, WorkDir(name));
  states_.Erase(name);
  spdlog::info("volume {}: undid an attach that did not finish", name);
}

}  // namespace berth::engine
