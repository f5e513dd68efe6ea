// Crash reconcile on fakes: each state file adopted, released or left alone by what Classify()
// finds live, and health's judgement of the same states.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/engine/fakes/engine_on_fakes.h"

namespace berth::engine::testing {
namespace {

using Kind = Engine::ReconcileAction::Kind;
using ::testing::Contains;
using ::testing::Not;

class ReconcileOnFakes : public EngineOnFakes {
 protected:
  Engine::ReconcileAction ReconcileOne() {
    const auto actions = engine().Reconcile();
    EXPECT_EQ(actions.size(), 1U);
    return actions.empty() ? Engine::ReconcileAction{"", Kind::kFailed, "none"} : actions.front();
  }
};

TEST_F(ReconcileOnFakes, AHealthyReferencedMountIsAdoptedAsItIs) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  host().calls.clear();
  const auto action = ReconcileOne();
  EXPECT_EQ(action.kind, Kind::kAdopted);
  EXPECT_TRUE(host().calls.empty());
  EXPECT_EQ(State("db")->TotalRefs(), 1);
  EXPECT_TRUE(Locked("db"));
}

TEST_F(ReconcileOnFakes, AnAttachmentWithoutReferencesIsReleased) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  auto state = *State("db");
  state.refs.clear();
  node_.SaveState(state);
  const auto action = ReconcileOne();
  EXPECT_EQ(action.kind, Kind::kReleased);
  EXPECT_EQ(action.detail, "released an attachment without references");
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(Locked("db"));
  EXPECT_FALSE(host().IsMountPoint(MountPath("db")));
}

TEST_F(ReconcileOnFakes, AnAttachThatNeverFinishedIsUndone) {
  engine().Create("db", {});
  HostVolumeState left;
  left.name = "db";
  left.backend = "rbd";
  left.phase = Phase::kAttaching;
  node_.SaveState(left);
  cluster().locks["db"] = {"host-a", "client.host-a", "10.0.0.1:0/host-a"};
  const auto action = ReconcileOne();
  EXPECT_EQ(action.kind, Kind::kReleased);
  EXPECT_EQ(action.detail, "undid an attach that did not finish");
  EXPECT_THAT(rbd().calls, Contains("undo-attach"));
  EXPECT_FALSE(Locked("db"));
  EXPECT_FALSE(State("db"));
}

TEST_F(ReconcileOnFakes, APendingDetachIsFinished) {
  engine().set_detach_executor([](const std::function<void()>&) {});  // berthd died first
  engine().Create("db", {});
  engine().Mount("db", "c1");
  engine().Unmount("db", "c1");
  ASSERT_EQ(State("db")->phase, Phase::kDetaching);
  const auto action = ReconcileOne();
  EXPECT_EQ(action.kind, Kind::kReleased);
  EXPECT_EQ(action.detail, "finished a pending detach");
  EXPECT_FALSE(Locked("db"));
}

TEST_F(ReconcileOnFakes, AMapperThatDiedUnderLiveMountsIsLeftMountedAndReported) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  cluster().dead_devices.insert("/dev/fake0");
  host().calls.clear();
  const auto action = ReconcileOne();
  EXPECT_EQ(action.kind, Kind::kBroken);
  EXPECT_THAT(host().calls, Not(Contains("unmount " + MountPath("db"))));
  EXPECT_TRUE(host().IsMountPoint(MountPath("db")));
  EXPECT_TRUE(State("db"));
}

TEST_F(ReconcileOnFakes, ReferencesWhoseMountsAreGoneAreReleased) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  host().mounts.clear();  // the host restarted
  cluster().dead_devices.insert("/dev/fake0");
  const auto action = ReconcileOne();
  EXPECT_EQ(action.kind, Kind::kReleased);
  EXPECT_EQ(action.detail, "released stale references (nothing is mounted any more)");
  EXPECT_FALSE(Locked("db"));
}

TEST_F(ReconcileOnFakes, AStagedVolumeWithoutPodsIsAdopted) {
  engine().Create("db", {});
  engine().StageAttach("db", false, "pv-db");
  EXPECT_EQ(ReconcileOne().kind, Kind::kAdopted);
  EXPECT_TRUE(State("db"));
}

TEST_F(ReconcileOnFakes, AVolumeGoneFromTheRegistryIsLeftForAnOperator) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  auto state = *State("db");
  state.refs.clear();
  node_.SaveState(state);
  cluster().registry.erase("db");
  const auto action = ReconcileOne();
  EXPECT_EQ(action.kind, Kind::kFailed);
  EXPECT_THAT(action.detail, ::testing::HasSubstr("/dev/fake0"));
  EXPECT_TRUE(State("db"));
  EXPECT_TRUE(host().IsMountPoint(MountPath("db")));
}

TEST_F(ReconcileOnFakes, AStateOfAnUnconfiguredBackendIsLeftAlone) {
  HostVolumeState left;
  left.name = "old";
  left.backend = "ceph-that-was-removed";
  left.phase = Phase::kMounted;
  left.mount_path = MountPath("old");
  node_.SaveState(left);
  const auto action = ReconcileOne();
  EXPECT_EQ(action.kind, Kind::kFailed);
  EXPECT_THAT(action.detail, ::testing::HasSubstr("not configured"));
  EXPECT_TRUE(State("old"));
}

TEST_F(ReconcileOnFakes, AReleaseThatFailsIsReportedAndKept) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  auto state = *State("db");
  state.refs.clear();
  node_.SaveState(state);
  host().busy.insert(MountPath("db"));  // something still holds the filesystem
  const auto action = ReconcileOne();
  EXPECT_EQ(action.kind, Kind::kFailed);
  EXPECT_TRUE(State("db"));
  EXPECT_TRUE(Locked("db"));
}

TEST_F(ReconcileOnFakes, HealthReportsAndFixesOnlyWhatNothingUses) {
  engine().Create("db", {});
  engine().Create("idle", {});
  engine().Mount("db", "c1");
  engine().Mount("idle", "c1");
  auto idle = *State("idle");
  idle.refs.clear();
  node_.SaveState(idle);
  const auto checks = engine().Health(/*fix=*/true);
  bool saw_db = false;
  bool saw_idle = false;
  for (const auto& c : checks) {
    if (c.check == "volume db") {
      saw_db = true;
      EXPECT_TRUE(c.ok) << c.detail;
    }
    if (c.check == "volume idle") {
      saw_idle = true;
      EXPECT_FALSE(c.ok);
      EXPECT_TRUE(c.fixed);
    }
  }
  EXPECT_TRUE(saw_db && saw_idle);
  EXPECT_FALSE(State("idle"));
  EXPECT_TRUE(State("db"));
  EXPECT_TRUE(host().IsMountPoint(MountPath("db")));
}

}  // namespace
}  // namespace berth::engine::testing
