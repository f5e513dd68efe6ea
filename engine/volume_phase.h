// A volume's phase on this host, and the one judgement of a state file against the live system.
// Mount, Publish, Reconcile and health all ask Classify(); none reads the state's fields to
// decide on its own.
#pragma once

#include <optional>
#include <string_view>

namespace berth::engine {

struct HostVolumeState;

// Saved in the state file ("phase"). The only moves are
//   attaching -> attached | mounted     the backend attach finished (NFS mounts as it attaches)
//   attached  -> mounted | detaching    the filesystem was mounted, or the detach began
//   mounted   -> detaching              the last reference went; unmap and unlock follow
//   mounted   -> lingering              the last reference went; kept mounted for a reuse
//   lingering -> mounted | detaching    reused by a Mount, or the linger ended
// A state file is erased when the teardown ends, from whatever phase.
enum class Phase {
  kAttaching,  // the backend may have locked, mapped or mounted: a crash here is undone
  kAttached,   // locked and mapped, nothing mounted (Kubernetes' waitforattach)
  kMounted,    // the filesystem is mounted at mount_path
  kDetaching,  // unmounted with no reference left; the unmap and unlock run after the reply
  // Mounted, synced and unreferenced, kept (with its lock) until linger_until for the next
  // Mount on this host; ended at once by any operation that needs the volume unused here or on
  // another host (see Engine::EndLinger).
  kLingering,
};

std::string_view PhaseName(Phase phase);
std::optional<Phase> PhaseFromName(std::string_view name);
// Whether a state in `from` may move to `to` (staying put is always allowed).
bool TransitionAllowed(Phase from, Phase to);

// What is true on the host right now, as the engine observes it for one state file.
struct LiveFacts {
  bool attachment_alive = false;    // the backend's mapper or mounter still serves it
  bool mounted = false;             // mount_path is a mount point
  bool pod_target_mounted = false;  // a kubelet pod directory it referenced is still mounted
};

enum class Condition {
  kUnfinishedAttach,  // an attach that never finished: undo what it did
  kDetachPending,     // a detach under way or interrupted: finish it
  kHealthy,           // usable as it is (mounted, or attached for a staged volume not yet mounted)
  kBroken,            // gone under mounts still referenced (or staged): leave it mounted
  kStale,             // gone, and nothing live uses it: tear it down
};

std::string_view ConditionName(Condition condition);
Condition Classify(const HostVolumeState& state, const LiveFacts& live);

}  // namespace berth::engine
