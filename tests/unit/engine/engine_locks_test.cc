// Single-writer locks across two hosts on fakes, and the optional capabilities: a backend
// without locks, resizing or snapshots gets a clear refusal, never a call.
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

class LocksOnFakes : public EngineOnFakes {
 protected:
  void SetUp() override {
    EngineOnFakes::SetUp();
    other_ = MakeNode("host-b");
    engine().Create("db", {});
    engine().Mount("db", "c1");
  }
  FakeNode other_;
};

TEST_F(LocksOnFakes, AnotherHostCannotMountAVolumeLockedHere) {
  ExpectError([&] { other_.engine->Mount("db", "c1"); }, ErrorCode::kBusy, {"host-a"});
  EXPECT_FALSE(other_.State("db"));
  EXPECT_TRUE(other_.host->mounts.empty());
  EXPECT_EQ(cluster().locks.at("db").host_id, "host-a");
}

TEST_F(LocksOnFakes, AnotherHostMayMountItReadOnly) {
  other_.host->filesystems.insert("/dev/fake1");
  other_.engine->Mount("db", "reader", /*read_only=*/true);
  EXPECT_TRUE(other_.State("db")->read_only);
  EXPECT_EQ(cluster().locks.at("db").host_id, "host-a");
}

TEST_F(LocksOnFakes, RemoveIsRefusedWhileMountedHereOrLockedElsewhere) {
  ExpectError([&] { engine().Remove("db"); }, ErrorCode::kBusy, {"mounted on this host"});
  ExpectError([&] { other_.engine->Remove("db"); }, ErrorCode::kBusy, {"attached on host host-a"});
  EXPECT_TRUE(cluster().registry.contains("db"));
  EXPECT_TRUE(cluster().storage.contains("db"));
}

TEST_F(LocksOnFakes, RollbackIsRefusedWhileAttachedAnywhere) {
  engine().CreateSnapshot("db", "before");
  ExpectError([&] { engine().Rollback("db", "before", nullptr); }, ErrorCode::kBusy,
              {"attached on this host"});
  ExpectError([&] { other_.engine->Rollback("db", "before", nullptr); }, ErrorCode::kBusy,
              {"read-write on host host-a"});
  EXPECT_THAT(rbd().calls, Not(Contains("rollback before")));
}

TEST_F(LocksOnFakes, BreakingOnlyTheConfirmedHolder) {
  const std::vector<HolderInfo> someone_else = {{"host-c", "client.host-c", "10.0.0.3:0/1"}};
  EXPECT_TRUE(other_.engine->BreakLock("db", true, someone_else).empty());
  EXPECT_TRUE(Locked("db"));
  const auto broken = other_.engine->BreakLock("db", true, engine().Locks("db").holders);
  ASSERT_EQ(broken.size(), 1U);
  EXPECT_EQ(broken[0].host_id, "host-a");
  EXPECT_THAT(other_.rbd->calls, Contains("fence-and-break host-a"));
  EXPECT_FALSE(Locked("db"));
  // Now the other host may take it.
  other_.host->filesystems.insert("/dev/fake1");
  other_.engine->Mount("db", "c1");
  EXPECT_EQ(cluster().locks.at("db").host_id, "host-b");
}

TEST_F(LocksOnFakes, SnapshotOfAVolumeMountedReadWriteHereIsTakenFrozen) {
  engine().CreateSnapshot("db", "nightly");
  EXPECT_TRUE(host().Called("freeze " + MountPath("db")));
  EXPECT_TRUE(host().Called("thaw " + MountPath("db")));
  EXPECT_TRUE(host().frozen.empty());
  ASSERT_EQ(engine().ListSnapshots("db").size(), 1U);
}

TEST_F(LocksOnFakes, AFailedSnapshotStillThaws) {
  rbd().FailNext("snapshot nightly", Error(ErrorCode::kUnavailable, "cluster gone"));
  ExpectError([&] { engine().CreateSnapshot("db", "nightly"); }, ErrorCode::kUnavailable,
              {"cluster gone"});
  EXPECT_TRUE(host().Called("thaw " + MountPath("db")));
  EXPECT_TRUE(host().frozen.empty());
}

TEST_F(LocksOnFakes, SnapshotNamesAreTheBackendsRule) {
  ExpectError([&] { engine().CreateSnapshot("db", "-bad name"); }, kInvalid, {"-bad name"});
  EXPECT_TRUE(cluster().snapshots["db"].empty());
  EXPECT_FALSE(host().Called("freeze " + MountPath("db")));
}

TEST_F(LocksOnFakes, ResizeGrowsTheStorageRecordsItAndGrowsTheMountedFilesystem) {
  engine().Resize("db", 2ULL << 30);
  EXPECT_EQ(cluster().storage.at("db"), 2ULL << 30);
  EXPECT_EQ(Record("db").spec.size_bytes, 2ULL << 30);
  EXPECT_THAT(rbd().calls, Contains("refresh /dev/fake0"));
  EXPECT_TRUE(host().Called("grow /dev/fake0 " + MountPath("db")));
  ExpectError([&] { engine().Resize("db", 1ULL << 30); }, kInvalid, {"never shrinks"});
  EXPECT_EQ(cluster().storage.at("db"), 2ULL << 30);
}

class CapabilitiesOnFakes : public EngineOnFakes {};

TEST_F(CapabilitiesOnFakes, ABackendWithoutASizeRefusesResize) {
  engine().Create("share", {{"backend", "nfs"}});
  const auto before = nfs_cluster_->registry.at("share");
  ExpectError([&] { engine().Resize("share", 2ULL << 30); }, kInvalid,
              {"share", "backend 'nfs'", "no size of its own"});
  EXPECT_EQ(nfs_cluster_->registry.at("share"), before);
  EXPECT_THAT(nfs().calls, Not(Contains("grow")));
}

TEST_F(CapabilitiesOnFakes, ABackendWithoutSnapshotsRefusesThem) {
  engine().Create("share", {{"backend", "nfs"}});
  ExpectError([&] { engine().CreateSnapshot("share", "s1"); }, kInvalid,
              {"backend 'nfs'", "keeps no snapshots"});
  ExpectError([&] { engine().ListSnapshots("share"); }, kInvalid, {"keeps no snapshots"});
  ExpectError([&] { engine().Clone("share", "s1", "copy", false, nullptr); }, kInvalid,
              {"keeps no snapshots"});
  EXPECT_FALSE(nfs_cluster_->registry.contains("copy"));
}

TEST_F(CapabilitiesOnFakes, ABackendWithoutLocksHasNoHoldersAndNothingToBreak) {
  engine().Create("share", {{"backend", "nfs"}});
  engine().Mount("share", "c1");
  EXPECT_TRUE(engine().Locks("share").holders.empty());
  EXPECT_EQ(engine().Locks("share").watchers.size(), 1U);
  EXPECT_TRUE(engine().BreakLock("share", true).empty());
  EXPECT_TRUE(engine().Get("share").holders.empty());
  // Shared: a second host mounts it read-write too.
  FakeNode other = MakeNode("host-b");
  other.engine->Mount("share", "c1");
  EXPECT_TRUE(other.host->IsMountPoint(other.MountPath("share")));
}

TEST_F(CapabilitiesOnFakes, CloneMakesANewVolumeFromASnapshot) {
  engine().Create("db", {});
  engine().CreateSnapshot("db", "s1");
  engine().Clone("db", "s1", "copy", false, nullptr);
  const VolumeRecord clone = Record("copy");
  EXPECT_EQ(clone.cloned_from, "db@s1");
  EXPECT_EQ(clone.spec.image, "copy");
  EXPECT_TRUE(cluster().storage.contains("copy"));
  ExpectError([&] { engine().Clone("db", "nope", "other", false, nullptr); }, ErrorCode::kNotFound,
              {"db@nope"});
  EXPECT_FALSE(cluster().registry.contains("other"));
}

}  // namespace
}  // namespace berth::engine::testing
