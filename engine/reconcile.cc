// Crash reconcile at start-up: every state file judged by Classify() against the live system,
// then adopted, released, or left alone and reported.
#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include "engine/volume_lock.h"

namespace berth::engine {

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
                               AttachmentToJson(state->attachment).dump() +
                               " is left for an operator"};
  }
  const std::string what =
      condition == Condition::kUnfinishedAttach ? "undid an attach that did not finish"
      : condition == Condition::kDetachPending  ? "finished a pending detach"
      : state->phase == Phase::kLingering       ? "ended a linger"
      : !referenced                             ? "released an attachment without references"
                    : "released stale references (nothing is mounted any more)";
  TearDown(*found->second, found->first, *state);
  return ReconcileAction{name, Kind::kReleased, what};
}

LiveFacts Engine::Observe(Backend& backend, const HostVolumeState& state) const {
  LiveFacts live;
  live.attachment_alive = state.phase != Phase::kAttaching &&
                          backend.AttachmentHealthy(state.attachment, state.mount_path);
  live.mounted = !state.mount_path.empty() && host_->IsMountPoint(state.mount_path);
  for (const auto& [ref, count] : state.refs) {
    if (ref.starts_with("/") && host_->IsMountPoint(ref)) {
      live.pod_target_mounted = true;  // a kubelet pod directory bind-mounted from the volume
      break;
    }
  }
  return live;
}

}  // namespace berth::engine
