#include "engine/volume_phase.h"

#include "engine/host_state.h"

namespace berth::engine {

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kAttaching:
      return "attaching";
    case Phase::kAttached:
      return "attached";
    case Phase::kMounted:
      return "mounted";
    case Phase::kDetaching:
      return "detaching";
    case Phase::kLingering:
      return "lingering";
  }
  return "attaching";
}

std::optional<Phase> PhaseFromName(std::string_view name) {
  for (Phase phase : {Phase::kAttaching, Phase::kAttached, Phase::kMounted, Phase::kDetaching,
                      Phase::kLingering}) {
    if (PhaseName(phase) == name) {
      return phase;
    }
  }
  return std::nullopt;
}

bool TransitionAllowed(Phase from, Phase to) {
  if (from == to) {
    return true;
  }
  switch (from) {
    case Phase::kAttaching:
      return to == Phase::kAttached || to == Phase::kMounted;
    case Phase::kAttached:
      return to == Phase::kMounted || to == Phase::kDetaching;
    case Phase::kMounted:
      return to == Phase::kDetaching || to == Phase::kLingering;
    case Phase::kDetaching:
      return false;
    case Phase::kLingering:
      return to == Phase::kMounted || to == Phase::kDetaching;
  }
  return false;
}

std::string_view ConditionName(Condition condition) {
  switch (condition) {
    case Condition::kUnfinishedAttach:
      return "an attach that did not finish";
    case Condition::kDetachPending:
      return "a detach that did not finish";
    case Condition::kHealthy:
      return "healthy";
    case Condition::kBroken:
      return "attachment gone under live mounts";
    case Condition::kStale:
      return "stale";
  }
  return "stale";
}

Condition Classify(const HostVolumeState& state, const LiveFacts& live) {
  if (state.phase == Phase::kAttaching) {
    return Condition::kUnfinishedAttach;
  }
  if (state.phase == Phase::kDetaching) {
    return Condition::kDetachPending;
  }
  // A staged volume may be attached and not mounted yet (waitforattach before mountdevice).
  const bool placed = state.phase == Phase::kMounted || state.phase == Phase::kLingering
                          ? live.mounted
                          : state.staged && state.mount_path.empty();
  if (live.attachment_alive && placed) {
    return Condition::kHealthy;
  }
  // Unmounting these would pull the filesystem from under running containers or pods (a staged
  // volume's global mount is kubelet's, whether or not pods use it yet).
  const bool referenced = state.TotalRefs() > 0 || state.staged;
  if (referenced && (live.mounted || live.pod_target_mounted)) {
    return Condition::kBroken;
  }
  return Condition::kStale;
}

}  // namespace berth::engine
