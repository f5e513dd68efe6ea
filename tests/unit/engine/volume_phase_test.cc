// The phases of a volume on a host, their moves, the migration of state files from before
// phases, and Classify()'s judgement of a state file against what is live: all without root.
#include "engine/volume_phase.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

#include "engine/host_state.h"
#include "tests/unit/expect_error.h"

namespace berth::engine {
namespace {

using testing::ExpectError;

constexpr Phase kAll[] = {Phase::kAttaching, Phase::kAttached, Phase::kMounted, Phase::kDetaching,
                          Phase::kLingering};

HostVolumeState InPhase(Phase phase, const std::string& mount_path = "/mnt/db") {
  HostVolumeState state;
  state.name = "db";
  state.backend = "rbd";
  state.phase = phase;
  state.mount_path = mount_path;
  return state;
}

LiveFacts Live(bool alive, bool mounted, bool pod_target_mounted = false) {
  return {alive, mounted, pod_target_mounted};
}

// --- moves ---------------------------------------------------------------------------------

TEST(Phase, OnlyTheDocumentedMovesAreAllowed) {
  // The moves docs/architecture.md lists, as data rather than a second copy of the logic.
  const std::set<std::pair<Phase, Phase>> documented = {
      {Phase::kAttaching, Phase::kAttached}, {Phase::kAttaching, Phase::kMounted},
      {Phase::kAttached, Phase::kMounted},   {Phase::kAttached, Phase::kDetaching},
      {Phase::kMounted, Phase::kDetaching},  {Phase::kMounted, Phase::kLingering},
      {Phase::kLingering, Phase::kMounted},  {Phase::kLingering, Phase::kDetaching}};
  const auto allowed = [&](Phase from, Phase to) {
    return from == to || documented.contains({from, to});
  };
  for (Phase from : kAll) {
    for (Phase to : kAll) {
      EXPECT_EQ(TransitionAllowed(from, to), allowed(from, to))
          << PhaseName(from) << " -> " << PhaseName(to);
    }
  }
}

TEST(Phase, AnIllegalMoveIsAnInternalErrorNamingBothPhasesAndChangesNothing) {
  HostVolumeState state = InPhase(Phase::kDetaching, "");
  ExpectError([&] { state.MoveTo(Phase::kMounted); }, ErrorCode::kInternal,
              {"db", "from phase detaching to mounted"});
  EXPECT_EQ(state.phase, Phase::kDetaching);
  state = InPhase(Phase::kMounted);
  ExpectError([&] { state.MoveTo(Phase::kAttaching); }, ErrorCode::kInternal,
              {"mounted", "attaching"});
  EXPECT_EQ(state.phase, Phase::kMounted);
}

TEST(Phase, TheAttachPathMovesForward) {
  HostVolumeState state = InPhase(Phase::kAttaching, "");
  state.MoveTo(Phase::kAttached);
  state.MoveTo(Phase::kMounted);
  state.MoveTo(Phase::kMounted);  // staying put: a save of the same phase
  state.MoveTo(Phase::kDetaching);
  EXPECT_EQ(state.phase, Phase::kDetaching);
}

TEST(Phase, NamesRoundTripAndAnUnknownNameIsNone) {
  for (Phase phase : kAll) {
    EXPECT_EQ(PhaseFromName(PhaseName(phase)), phase);
  }
  EXPECT_FALSE(PhaseFromName("hibernating").has_value());
  EXPECT_FALSE(PhaseFromName("").has_value());
}

// --- state files ---------------------------------------------------------------------------

TEST(PhaseMigration, AnOldStateFileMidAttachIsAttaching) {
  EXPECT_EQ(StateFromJson({{"name", "db"}, {"attaching", true}}).phase, Phase::kAttaching);
}

TEST(PhaseMigration, AnOldStateFileWithADetachPendingIsDetaching) {
  EXPECT_EQ(StateFromJson({{"name", "db"}, {"detach_pending", true}}).phase, Phase::kDetaching);
}

TEST(PhaseMigration, AnOldStateFileWithAMountIsMounted) {
  EXPECT_EQ(StateFromJson({{"name", "db"}, {"mount_path", "/mnt/db"}}).phase, Phase::kMounted);
}

TEST(PhaseMigration, AnOldStagedStateFileWithoutAMountIsAttached) {
  const auto state = StateFromJson({{"name", "db"}, {"staged", true}});
  EXPECT_EQ(state.phase, Phase::kAttached);
  EXPECT_TRUE(state.staged);
}

TEST(PhaseMigration, ThePhaseWinsOverTheOldFlags) {
  EXPECT_EQ(StateFromJson({{"name", "db"}, {"phase", "mounted"}, {"attaching", true}}).phase,
            Phase::kMounted);
}

TEST(PhaseMigration, AnUnknownPhaseIsRefusedNamingIt) {
  ExpectError(
      [] {
        StateFromJson({{"name", "db"}, {"phase", "hibernating"}});
      },
      ErrorCode::kInternal, {"db", "hibernating", "left alone"});
}

TEST(PhaseMigration, SavedStateCarriesThePhaseAndTheOldFlagsForADowngrade) {
  for (Phase phase : kAll) {
    const auto json = StateToJson(InPhase(phase));
    EXPECT_EQ(json.at("phase"), PhaseName(phase));
    EXPECT_EQ(json.at("attaching"), phase == Phase::kAttaching);
    EXPECT_EQ(json.at("detach_pending"), phase == Phase::kDetaching);
    EXPECT_EQ(StateFromJson(json).phase, phase);
  }
}

// --- Classify ------------------------------------------------------------------------------

TEST(Classify, AnAttachThatNeverFinishedIsUndoneWhateverLooksAlive) {
  auto state = InPhase(Phase::kAttaching);
  state.refs["c1"] = 1;
  EXPECT_EQ(Classify(state, Live(true, true, true)), Condition::kUnfinishedAttach);
  EXPECT_EQ(Classify(state, Live(false, false)), Condition::kUnfinishedAttach);
}

TEST(Classify, APendingDetachIsFinishedWhateverLooksAlive) {
  auto state = InPhase(Phase::kDetaching, "");
  EXPECT_EQ(Classify(state, Live(true, false)), Condition::kDetachPending);
  state.staged = true;
  EXPECT_EQ(Classify(state, Live(true, true, true)), Condition::kDetachPending);
}

TEST(Classify, MountedWithItsMapperAliveIsHealthy) {
  auto state = InPhase(Phase::kMounted);
  state.refs["c1"] = 1;
  EXPECT_EQ(Classify(state, Live(true, true)), Condition::kHealthy);
}

TEST(Classify, HealthyWithoutReferencesIsStillHealthy) {
  // Mount reuses it; reconcile releases it, since it has no reference.
  EXPECT_EQ(Classify(InPhase(Phase::kMounted), Live(true, true)), Condition::kHealthy);
}

TEST(Classify, ALingeringVolumeIsHealthyOnlyWhileMountedWithItsMapperAlive) {
  const auto state = InPhase(Phase::kLingering);
  EXPECT_EQ(Classify(state, Live(true, true)), Condition::kHealthy);
  // No reference: whatever went wrong under it, nothing uses it, so it is torn down.
  EXPECT_EQ(Classify(state, Live(false, true)), Condition::kStale);
  EXPECT_EQ(Classify(state, Live(true, false)), Condition::kStale);
}

TEST(Classify, AMountThatVanishedUnderALiveMapperIsStale) {
  auto state = InPhase(Phase::kMounted);
  state.refs["c1"] = 1;
  EXPECT_EQ(Classify(state, Live(true, false)), Condition::kStale);
}

TEST(Classify, ADeadMapperUnderAReferencedMountIsBrokenAndLeftMounted) {
  auto state = InPhase(Phase::kMounted);
  state.refs["c1"] = 1;
  EXPECT_EQ(Classify(state, Live(false, true)), Condition::kBroken);
}

TEST(Classify, ADeadMapperUnderALivePodDirectoryIsBroken) {
  auto state = InPhase(Phase::kMounted);
  state.staged = true;
  state.refs["/var/lib/kubelet/pods/p/volumes/v"] = 1;
  EXPECT_EQ(Classify(state, Live(false, false, true)), Condition::kBroken);
}

TEST(Classify, ADeadMapperWithNothingMountedIsStale) {
  auto state = InPhase(Phase::kMounted);
  state.refs["c1"] = 2;  // the host restarted: the references' mounts are all gone
  EXPECT_EQ(Classify(state, Live(false, false)), Condition::kStale);
}

TEST(Classify, ADeadMapperUnderAnUnreferencedDockerMountIsStale) {
  EXPECT_EQ(Classify(InPhase(Phase::kMounted), Live(false, true)), Condition::kStale);
}

TEST(Classify, AStagedVolumesGlobalMountIsKubeletsEvenWithoutPods) {
  auto state = InPhase(Phase::kMounted);
  state.staged = true;
  EXPECT_EQ(Classify(state, Live(false, true)), Condition::kBroken);
  EXPECT_EQ(Classify(state, Live(true, true)), Condition::kHealthy);
}

TEST(Classify, AStagedVolumeAttachedButNotYetMountedIsHealthy) {
  auto state = InPhase(Phase::kAttached, "");
  state.staged = true;
  EXPECT_EQ(Classify(state, Live(true, false)), Condition::kHealthy);
  EXPECT_EQ(Classify(state, Live(false, false)), Condition::kStale);
}

TEST(Classify, ADockerVolumeAttachedButNeverMountedIsStale) {
  // A process died between the attach and the mount: nothing can be using it.
  EXPECT_EQ(Classify(InPhase(Phase::kAttached, ""), Live(true, false)), Condition::kStale);
}

TEST(Classify, EveryConditionHasAName) {
  for (Condition c : {Condition::kUnfinishedAttach, Condition::kDetachPending, Condition::kHealthy,
                      Condition::kBroken, Condition::kStale}) {
    EXPECT_FALSE(ConditionName(c).empty());
  }
}

}  // namespace
}  // namespace berth::engine
