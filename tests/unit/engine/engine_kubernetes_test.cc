// Kubernetes' node flow on fakes: stage, publish and their refusals, the staged fast path,
// unstage and detach by kubelet's alias.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/engine/fakes/engine_on_fakes.h"
#include "tests/unit/expect_error.h"

namespace berth::engine::testing {
namespace {

using berth::testing::ExpectError;
using berth::testing::kInvalid;
using ::testing::Contains;
using ::testing::Not;

class KubernetesOnFakes : public EngineOnFakes {
 protected:
  const std::string global_ = "/var/lib/kubelet/plugins/berth/mounts/db";
  const std::string pod1_ = "/var/lib/kubelet/pods/1/volumes/berth~rbd/db";
  const std::string pod2_ = "/var/lib/kubelet/pods/2/volumes/berth~rbd/db";

  // waitforattach, mountdevice, mount: what kubelet calls for a pod.
  void StageAndPublish(const std::string& target) {
    engine().StageAttach("db", false, "pv-db");
    engine().StageMount("db", global_, false);
    engine().Publish("db", target, false);
  }
};

TEST_F(KubernetesOnFakes, StageAttachSavesAnAttachedStagedPhaseAndTheAlias) {
  engine().Create("db", {});
  EXPECT_EQ(engine().StageAttach("db", false, "pv-db"), "/dev/fake0");
  const auto state = State("db");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->phase, Phase::kAttached);
  EXPECT_TRUE(state->staged);
  EXPECT_EQ(state->alias, "pv-db");
  EXPECT_TRUE(state->mount_path.empty());
  EXPECT_TRUE(Locked("db"));
}

TEST_F(KubernetesOnFakes, StageMountFormatsOnceAndPublishBindMounts) {
  engine().Create("db", {});
  StageAndPublish(pod1_);
  EXPECT_EQ(State("db")->phase, Phase::kMounted);
  EXPECT_EQ(State("db")->mount_path, global_);
  EXPECT_EQ(host().formats, 1);
  EXPECT_TRUE(host().Called("bind " + global_ + " " + pod1_ + " rw"));
  EXPECT_TRUE(State("db")->refs.contains(pod1_));
  // kubelet retries mountdevice: same path, nothing redone.
  EXPECT_EQ(engine().StageMount("db", global_, false).mount_path, global_);
  EXPECT_EQ(host().formats, 1);
}

TEST_F(KubernetesOnFakes, AStageKilledAfterItsMountIsAdoptedByTheRetry) {
  engine().Create("db", {});
  engine().StageAttach("db", false, "pv-db");
  // What a process killed right after mounting leaves: the device mounted, the state not told.
  host().filesystems.insert("/dev/fake0");
  host().mounts[global_] = "/dev/fake0";
  EXPECT_EQ(engine().StageMount("db", global_, false).mount_path, global_);
  EXPECT_EQ(State("db")->phase, Phase::kMounted);
  EXPECT_EQ(State("db")->mount_path, global_);
  EXPECT_EQ(host().formats, 0);
  // Unstaged as well as retried: kubelet may unstage such an uncertain mount.
  engine().Unstage(global_);
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(Locked("db"));
  host().mounts[global_] = engine().StageAttach("db", false, "pv-db");
  engine().Unstage(global_);
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(host().IsMountPoint(global_));
  // Someone else's mount at the path is never taken for the volume's.
  engine().Create("other", {});
  const std::string other_global = global_ + "-other";
  host().mounts[other_global] = "/dev/sdz";
  ExpectError([&] { engine().StageMount("other", other_global, false); }, ErrorCode::kConflict,
              {"something else is mounted at " + other_global});
}

TEST_F(KubernetesOnFakes, PublishOnAHealthyStagedVolumeNeedsNoRegistryRead) {
  engine().Create("db", {});
  StageAndPublish(pod1_);
  rbd().calls.clear();
  engine().Publish("db", pod2_, false);
  EXPECT_THAT(rbd().calls, Not(Contains("lookup")));
  EXPECT_EQ(State("db")->TotalRefs(), 2);
}

TEST_F(KubernetesOnFakes, PublishRetriedOnAMountedTargetKeepsOneReference) {
  engine().Create("db", {});
  StageAndPublish(pod1_);
  engine().Publish("db", pod1_, false);
  EXPECT_EQ(State("db")->refs.at(pod1_), 1);
}

TEST_F(KubernetesOnFakes, PublishNeedsAnAbsoluteTarget) {
  engine().Create("db", {});
  ExpectError([&] { engine().Publish("db", "pods/1", false); }, kInvalid, {"absolute"});
  EXPECT_FALSE(State("db"));
}

TEST_F(KubernetesOnFakes, UnpublishingTheLastPodKeepsAStagedVolumeMounted) {
  engine().Create("db", {});
  StageAndPublish(pod1_);
  engine().Unpublish(pod1_);
  EXPECT_FALSE(host().IsMountPoint(pod1_));
  ASSERT_TRUE(State("db"));
  EXPECT_EQ(State("db")->TotalRefs(), 0);
  EXPECT_TRUE(host().IsMountPoint(global_));  // until kubelet unstages it
  EXPECT_TRUE(Locked("db"));
}

TEST_F(KubernetesOnFakes, UnstageIsRefusedWhilePodsStillUseTheVolume) {
  engine().Create("db", {});
  StageAndPublish(pod1_);
  ExpectError([&] { engine().Unstage(global_); }, ErrorCode::kBusy, {pod1_, "unmount those"});
  EXPECT_TRUE(host().IsMountPoint(global_));
  EXPECT_TRUE(Locked("db"));
}

TEST_F(KubernetesOnFakes, UnstageDropsReferencesWhosePodMountsAreGoneThenDetaches) {
  engine().Create("db", {});
  StageAndPublish(pod1_);
  host().mounts.erase(pod1_);  // kubelet unmounted the pod directory itself
  engine().Unstage(global_);
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(host().IsMountPoint(global_));
  EXPECT_FALSE(Locked("db"));
}

TEST_F(KubernetesOnFakes, UnstageOfAnUnknownPath) {
  engine().Unstage("/var/lib/kubelet/plugins/berth/mounts/none");  // not mounted: nothing to do
  host().mounts["/var/lib/kubelet/plugins/berth/mounts/other"] = "/dev/sdz";
  ExpectError([&] { engine().Unstage("/var/lib/kubelet/plugins/berth/mounts/other"); },
              ErrorCode::kNotFound, {"no record of staging"});
  EXPECT_TRUE(host().IsMountPoint("/var/lib/kubelet/plugins/berth/mounts/other"));
}

TEST_F(KubernetesOnFakes, DetachByAliasIsRefusedWhileMountedAndWorksAfter) {
  engine().Create("db", {});
  engine().StageAttach("db", false, "pv-db");
  engine().StageMount("db", global_, false);
  ExpectError([&] { engine().ReleaseAlias("pv-db"); }, ErrorCode::kBusy, {"still mounted"});
  EXPECT_TRUE(Locked("db"));
  host().mounts.erase(global_);  // unmounted by hand
  engine().ReleaseAlias("pv-db");
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(Locked("db"));
  engine().ReleaseAlias("pv-gone");  // nothing attached: nothing to do
}

TEST_F(KubernetesOnFakes, DockerMountOfAVolumeStagedButNotMountedIsRefused) {
  engine().Create("db", {});
  engine().StageAttach("db", false, "pv-db");
  ExpectError([&] { engine().Mount("db", "c1"); }, ErrorCode::kConflict, {"not mounted yet"});
  EXPECT_EQ(State("db")->TotalRefs(), 0);
}

TEST_F(KubernetesOnFakes, StagedVolumeWhoseMountVanishedUnderPodsIsNotRemounted) {
  engine().Create("db", {});
  StageAndPublish(pod1_);
  host().mounts.erase(global_);
  cluster().dead_devices.insert("/dev/fake0");
  ExpectError([&] { engine().Publish("db", pod2_, false); }, ErrorCode::kConflict,
              {"staged for Kubernetes", "pods still use it"});
  EXPECT_FALSE(host().IsMountPoint(pod2_));
  EXPECT_THAT(rbd().calls, Not(Contains("detach")));
}

TEST_F(KubernetesOnFakes, AFileBackendHasNoDeviceToStage) {
  engine().Create("share", {{"backend", "nfs"}});
  ExpectError([&] { engine().StageAttach("share", false, "pv-share"); }, kInvalid,
              {"not a block volume"});
}

TEST_F(KubernetesOnFakes, AFailedStageMountTearsTheAttachDown) {
  engine().Create("db", {});
  engine().StageAttach("db", false, "pv-db");
  host().mounts[global_] = "/dev/sdz";  // kubelet's path holds something else
  ExpectError([&] { engine().StageMount("db", global_, false); }, ErrorCode::kConflict,
              {"something else is mounted"});
  EXPECT_EQ(host().mounts.at(global_), "/dev/sdz");
  host().mounts.erase(global_);
  // The mount itself fails: blank device, ledger set. The attach is torn down with it.
  auto record = Record("db");
  record.formatted_at = "2026-01-01T00:00:00Z";
  cluster().registry["db"] = RecordToString(record);
  ExpectError([&] { engine().StageMount("db", global_, false); }, ErrorCode::kConflict, {"ledger"});
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(Locked("db"));
}

TEST_F(KubernetesOnFakes, FsGroupIsGivenOnlyToAFilesystemThisHostJustMade) {
  engine().Create("db", {});
  engine().StageAttach("db", false, "pv-db");
  // A real directory stands in for the mounted filesystem's root.
  const std::string root = dir_ + "/global";
  std::filesystem::create_directories(root);
  engine().StageMount("db", root, false);
  EXPECT_TRUE(State("db")->fresh_filesystem);
  engine().Publish("db", pod1_, false, ::getgid());
  EXPECT_FALSE(State("db")->fresh_filesystem);  // once: never again for this filesystem
  EXPECT_EQ(std::filesystem::status(root).permissions() & std::filesystem::perms::set_gid,
            std::filesystem::perms::set_gid);
}

}  // namespace
}  // namespace berth::engine::testing
