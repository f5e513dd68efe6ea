// The Docker door's rules on fakes: phases saved as a volume attaches, mounts and detaches;
// reference counting; format-once; undo of a failed attach; stale and unfinished state.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "tests/unit/engine/fakes/engine_on_fakes.h"
#include "tests/unit/expect_error.h"

namespace berth::engine::testing {
namespace {

using berth::testing::ExpectError;
using berth::testing::kInvalid;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

class MountOnFakes : public EngineOnFakes {};

TEST_F(MountOnFakes, FirstMountAttachesFormatsAndSavesTheMountedPhase) {
  engine().Create("db", {{"size", "1G"}});
  const MountResult result = engine().Mount("db", "c1");
  EXPECT_TRUE(result.formatted);
  EXPECT_EQ(result.mount_path, MountPath("db"));
  const auto state = State("db");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->phase, Phase::kMounted);
  EXPECT_EQ(state->attachment.device, "/dev/fake0");
  EXPECT_EQ(state->TotalRefs(), 1);
  EXPECT_TRUE(host().IsMountPoint(MountPath("db")));
  EXPECT_TRUE(Locked("db"));
  // The ledger records who formatted it, before anything else can mount it.
  EXPECT_EQ(Record("db").formatted_by, "host-a");
}

TEST_F(MountOnFakes, ReferencesAreCountedAndTheLastUnmountDetaches) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  engine().Mount("db", "c2");
  EXPECT_EQ(State("db")->TotalRefs(), 2);
  EXPECT_EQ(std::count(rbd().calls.begin(), rbd().calls.end(), "attach"), 1);
  engine().Unmount("db", "c1");
  EXPECT_TRUE(host().IsMountPoint(MountPath("db")));
  EXPECT_EQ(State("db")->TotalRefs(), 1);
  engine().Unmount("db", "c2");
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(host().IsMountPoint(MountPath("db")));
  EXPECT_FALSE(Locked("db"));
  EXPECT_THAT(rbd().calls, Contains("detach"));
}

TEST_F(MountOnFakes, OneReferenceIdTwiceNeedsTwoUnmounts) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  engine().Mount("db", "c1");
  engine().Unmount("db", "c1");
  EXPECT_TRUE(State("db"));
  engine().Unmount("db", "c1");
  EXPECT_FALSE(State("db"));
}

TEST_F(MountOnFakes, UnknownReferenceOrVolumeIsIgnored) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  engine().Unmount("db", "not-a-ref");
  EXPECT_EQ(State("db")->TotalRefs(), 1);
  EXPECT_TRUE(host().IsMountPoint(MountPath("db")));
  engine().Unmount("other", "c1");  // not mounted here: nothing to do, no error
  EXPECT_FALSE(State("other"));
}

TEST_F(MountOnFakes, EmptyReferenceIsRefusedBeforeAnything) {
  engine().Create("db", {});
  ExpectError([&] { engine().Mount("db", ""); }, kInvalid, {"reference id"});
  EXPECT_FALSE(State("db"));
  EXPECT_THAT(rbd().calls, Not(Contains("attach")));
}

TEST_F(MountOnFakes, AFilesystemIsMadeOnceAcrossRemounts) {
  engine().Create("db", {});
  EXPECT_TRUE(engine().Mount("db", "c1").formatted);
  engine().Unmount("db", "c1");
  // The next attach maps a new device name; the fake knows it holds the same data only through
  // the ledger: a blank device with the ledger set is refused, never formatted.
  host().filesystems.insert("/dev/fake1");
  EXPECT_FALSE(engine().Mount("db", "c2").formatted);
  EXPECT_EQ(host().formats, 1);
}

TEST_F(MountOnFakes, BlankDeviceOfAFormattedVolumeIsRefusedAndTornDown) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  engine().Unmount("db", "c1");
  // /dev/fake1 probes blank although the ledger says formatted: refused, never formatted.
  ExpectError([&] { engine().Mount("db", "c2"); }, ErrorCode::kConflict, {"ledger"});
  EXPECT_EQ(host().formats, 1);
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(Locked("db"));
  EXPECT_FALSE(host().IsMountPoint(MountPath("db")));
}

TEST_F(MountOnFakes, AFailedMapUndoesTheAttachAndReleasesTheLock) {
  engine().Create("db", {});
  rbd().FailNext("map", Error(ErrorCode::kUnavailable, "mapper did not start"));
  ExpectError([&] { engine().Mount("db", "c1"); }, ErrorCode::kUnavailable, {"mapper"});
  EXPECT_THAT(rbd().calls, Contains("undo-attach"));
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(Locked("db"));
}

TEST_F(MountOnFakes, AFailingUndoNeverReplacesTheOriginalError) {
  engine().Create("db", {});
  rbd().FailNext("map", Error(ErrorCode::kUnavailable, "mapper did not start"));
  rbd().FailNext("undo-attach", Error(ErrorCode::kInternal, "undo broke too"));
  ExpectError([&] { engine().Mount("db", "c1"); }, ErrorCode::kUnavailable, {"mapper"});
  // The record of the attach stays, so the next Mount or reconcile undoes it.
  ASSERT_TRUE(State("db"));
  EXPECT_EQ(State("db")->phase, Phase::kAttaching);
}

TEST_F(MountOnFakes, AnUnfinishedAttachIsUndoneByTheNextMount) {
  engine().Create("db", {});
  HostVolumeState left;  // a process died after saving its intent
  left.name = "db";
  left.backend = "rbd";
  left.phase = Phase::kAttaching;
  node_.SaveState(left);
  engine().Mount("db", "c1");
  EXPECT_THAT(rbd().calls, ::testing::IsSupersetOf({"undo-attach", "attach"}));
  EXPECT_EQ(State("db")->phase, Phase::kMounted);
}

TEST_F(MountOnFakes, AStaleAttachmentIsTornDownBeforeMountingAgain) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  // The host rebooted: the mapper and the mount are gone, the state file is not.
  cluster().dead_devices.insert("/dev/fake0");
  host().mounts.clear();
  host().filesystems.insert("/dev/fake1");
  engine().Mount("db", "c2");
  EXPECT_THAT(rbd().calls, Contains("detach"));
  EXPECT_EQ(State("db")->attachment.device, "/dev/fake1");
  // Only the new reference: the old one went with the stale mount.
  EXPECT_EQ(State("db")->TotalRefs(), 1);
}

TEST_F(MountOnFakes, ReadOnlyMountThenReadWriteIsAConflict) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  engine().Unmount("db", "c1");
  host().filesystems.insert("/dev/fake1");
  engine().Mount("db", "reader", /*read_only=*/true);
  EXPECT_FALSE(Locked("db"));  // a read-only attach takes no lock
  ExpectError([&] { engine().Mount("db", "writer"); }, ErrorCode::kConflict, {"read-only"});
  EXPECT_EQ(State("db")->TotalRefs(), 1);
  EXPECT_TRUE(State("db")->read_only);
}

TEST_F(MountOnFakes, AVolumeCreatedReadOnlyAlwaysAttachesReadOnly) {
  engine().Create("ro", {{"read_only", "true"}});
  host().filesystems.insert("/dev/fake0");  // written elsewhere before
  engine().Mount("ro", "c1", /*read_only=*/false);
  EXPECT_TRUE(State("ro")->read_only);
  EXPECT_FALSE(Locked("ro"));
  EXPECT_TRUE(host().read_only_mounts.contains(MountPath("ro")));
}

TEST_F(MountOnFakes, LastUnmountWithAnExecutorLeavesTheDetachPending) {
  std::vector<std::function<void()>> queued;
  engine().set_detach_executor([&](std::function<void()> work) { queued.push_back(work); });
  engine().Create("db", {});
  engine().Mount("db", "c1");
  engine().Unmount("db", "c1");
  EXPECT_FALSE(host().IsMountPoint(MountPath("db")));
  ASSERT_TRUE(State("db"));
  EXPECT_EQ(State("db")->phase, Phase::kDetaching);
  EXPECT_TRUE(Locked("db"));  // unmap and unlock run after the reply
  ASSERT_EQ(queued.size(), 1U);
  queued.front()();
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(Locked("db"));
}

TEST_F(MountOnFakes, AMountFinishesAPendingDetachFirst) {
  std::vector<std::function<void()>> queued;
  engine().set_detach_executor([&](std::function<void()> work) { queued.push_back(work); });
  engine().Create("db", {});
  engine().Mount("db", "c1");
  engine().Unmount("db", "c1");
  host().filesystems.insert("/dev/fake1");
  engine().Mount("db", "c2");
  EXPECT_EQ(State("db")->phase, Phase::kMounted);
  EXPECT_EQ(State("db")->attachment.device, "/dev/fake1");
  EXPECT_EQ(std::count(rbd().calls.begin(), rbd().calls.end(), "detach"), 1);
  queued.front()();  // the background detach finds the volume mounted again: leaves it
  EXPECT_TRUE(State("db"));
  EXPECT_TRUE(Locked("db"));
  EXPECT_EQ(std::count(rbd().calls.begin(), rbd().calls.end(), "detach"), 1);
}

TEST_F(MountOnFakes, SomethingElseMountedAtTheMountPathIsNeverTouched) {
  engine().Create("db", {});
  host().mounts[MountPath("db")] = "/dev/sdz";
  ExpectError([&] { engine().Mount("db", "c1"); }, ErrorCode::kConflict,
              {"something else is mounted"});
  EXPECT_EQ(host().mounts.at(MountPath("db")), "/dev/sdz");
  EXPECT_FALSE(host().Called("unmount " + MountPath("db")));
  EXPECT_FALSE(Locked("db"));
}

TEST_F(MountOnFakes, AFileBackendMountsItselfAndIsNeverFormatted) {
  engine().Create("share", {{"backend", "nfs"}});
  const MountResult result = engine().Mount("share", "c1");
  EXPECT_FALSE(result.formatted);
  EXPECT_EQ(host().formats, 0);
  EXPECT_EQ(State("share")->phase, Phase::kMounted);
  EXPECT_EQ(host().mounts.at(MountPath("share")), "fake:/share");
  EXPECT_TRUE(State("share")->attachment.device.empty());
}

}  // namespace
}  // namespace berth::engine::testing
