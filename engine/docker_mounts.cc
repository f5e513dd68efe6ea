// Docker's mount references: Mount adds one (attaching on the first), Unmount drops one (the
// last unmounts, and the detach finishes in the background: FinishDetach).
#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/fault.h"
#include "common/step_trace.h"
#include "common/undo.h"
#include "engine/volume_lock.h"
#include "engine/volume_spec.h"

namespace berth::engine {

MountResult Engine::Mount(const std::string& name, const std::string& ref_id, bool read_only) {
  ValidateVolumeName(name);
  if (ref_id.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "mount of volume " + name + " needs a reference id");
  }
  VolumeLock lock(config_.state_dir, name, "mount", BusyWait());
  // Logged under the volume lock, so overlapping begin/end pairs in the log show real
  // parallelism across volumes.
  spdlog::info("mount {} ({}) begins", name, ref_id);
  StepTrace trace("mount " + name);
  auto usable = FindUsable(name, /*reuse_linger=*/true);
  TraceStep("find");
  VolumeRecord& record = usable.record;  // captured below: a structured binding could not be
  Backend* backend = usable.backend;
  RefuseRawBlock(record.spec, "be mounted");
  if (auto& state = usable.state) {
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
    const bool lingered = state->phase == Phase::kLingering;
    if (lingered) {
      state->MoveTo(Phase::kMounted);  // no map, no probe, no fsck: it never left
      state->linger_until_ms = 0;
    }
    state->AddRef(ref_id);
    states_.Save(*state);
    spdlog::info("mount {} ({}) ends: {}, {} reference(s)", name, ref_id,
                 lingered ? "reused while it lingered" : "already mounted", state->TotalRefs());
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

void Engine::Unmount(const std::string& name, const std::string& ref_id) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "unmount", BusyWait());
  StepTrace trace("unmount " + name);
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
  if (StartLinger(*state)) {
    spdlog::info("unmount {} ({}): synced; lingering for {}s", name, ref_id,
                 config_.linger_seconds);
    return;
  }
  if (detach_executor_) {
    host_->Unmount(state->mount_path);
    TraceStep("unmount");
    FaultPoint("unmount.unmounted");
    state->mount_path.clear();
    state->MoveTo(Phase::kDetaching);
    states_.Save(*state);
    TraceStep("state write");
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
    StepTrace trace("detach " + name);
    auto state = states_.Load(name);
    if (!state || state->phase != Phase::kDetaching) {
      return;  // a Mount came first and already finished it (and maybe lingers now)
    }
    auto found = Find(name);
    TraceStep("find");
    if (!found) {
      spdlog::error("volume {} vanished from the registry; its device {} stays mapped", name,
                    state->attachment.device.empty() ? "?" : state->attachment.device);
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

}  // namespace berth::engine
