// Create, remove and the one adopt policy on fakes: idempotent creates, nothing left half-made,
// storage that no volume owns taken only when the options name it.
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

class LifecycleOnFakes : public EngineOnFakes {};

TEST_F(LifecycleOnFakes, CreateIsIdempotentAndADifferentRepeatIsAConflict) {
  const VolumeRecord made = engine().Create("db", {{"size", "1G"}});
  EXPECT_EQ(engine().Create("db", {{"size", "1G"}}).created_at, made.created_at);
  const auto before = cluster().registry.at("db");
  ExpectError(
      [&] {
        engine().Create("db", {{"size", "2G"}});
      },
      ErrorCode::kConflict, {"size is 1 GiB, not 2 GiB"});
  EXPECT_EQ(cluster().registry.at("db"), before);
}

TEST_F(LifecycleOnFakes, BadOptionsCreateNothing) {
  ExpectError([&] { engine().Create("db", {{"sise", "1G"}}); }, kInvalid, {"unknown option"});
  ExpectError(
      [&] {
        engine().Create("db", {{"backend", "nfs"}, {"image", "x"}});
      },
      kInvalid, {"rbd backends only"});
  EXPECT_TRUE(cluster().registry.empty());
  EXPECT_TRUE(nfs_cluster_->registry.empty());
  EXPECT_THAT(rbd().calls, Not(Contains("register")));
}

TEST_F(LifecycleOnFakes, AFailedStorageCreateUnregistersTheVolume) {
  rbd().FailNext("ensure-storage", Error(ErrorCode::kUnavailable, "pool full"));
  ExpectError([&] { engine().Create("db", {}); }, ErrorCode::kUnavailable, {"pool full"});
  EXPECT_FALSE(cluster().registry.contains("db"));
  EXPECT_THAT(rbd().calls, Contains("unregister"));
}

TEST_F(LifecycleOnFakes, RemoveDeletesStorageAndEntryAndFinishesAPendingDetach) {
  engine().set_detach_executor([](const std::function<void()>&) {});
  engine().Create("db", {});
  engine().Mount("db", "c1");
  engine().Unmount("db", "c1");  // detach pending
  engine().Remove("db");
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(Locked("db"));
  EXPECT_FALSE(cluster().registry.contains("db"));
  EXPECT_FALSE(cluster().storage.contains("db"));
}

TEST_F(LifecycleOnFakes, RemoveIsRefusedWhileStagedForKubernetes) {
  engine().Create("db", {});
  engine().StageAttach("db", false, "pv-db");
  ExpectError([&] { engine().Remove("db"); }, ErrorCode::kBusy, {"for Kubernetes"});
  EXPECT_TRUE(cluster().storage.contains("db"));
}

TEST_F(LifecycleOnFakes, EnsureVolumeUsesAnExistingVolumeOnlyOnItsOwnBackend) {
  engine().Create("db", {});
  engine().EnsureVolume("db", {{"backend", "rbd"}}, false);
  ExpectError(
      [&] {
        engine().EnsureVolume("db", {{"backend", "nfs"}}, true);
      },
      ErrorCode::kConflict, {"lives on backend rbd"});
  EXPECT_FALSE(nfs_cluster_->registry.contains("db"));
}

TEST_F(LifecycleOnFakes, EnsureVolumeNeverAdoptsStorageForSharingTheVolumesName) {
  cluster().storage["db"] = 1ULL << 30;  // an image nobody's volume owns
  ExpectError([&] { engine().EnsureVolume("db", {}, true); }, ErrorCode::kConflict,
              {"already exists"});
  EXPECT_FALSE(cluster().registry.contains("db"));
  // Named by the options: adopted.
  engine().EnsureVolume("db", {{"image", "db"}}, false);
  EXPECT_TRUE(Record("db").spec.adopted);
}

TEST_F(LifecycleOnFakes, EnsureVolumeCreatesOnlyWhenAskedTo) {
  ExpectError([&] { engine().EnsureVolume("db", {}, false); }, ErrorCode::kNotFound,
              {"does not exist"});
  EXPECT_TRUE(cluster().registry.empty());
  engine().EnsureVolume("db", {}, true);
  EXPECT_FALSE(Record("db").spec.adopted);
  // A named image that is missing is made only when it is named like the volume, and asked for.
  ExpectError(
      [&] {
        engine().EnsureVolume("logs", {{"image", "logs"}}, false);
      },
      ErrorCode::kNotFound, {"does not exist"});
  ExpectError(
      [&] {
        engine().EnsureVolume("logs", {{"image", "elsewhere"}}, true);
      },
      ErrorCode::kNotFound, {"elsewhere"});
  engine().EnsureVolume("logs", {{"image", "logs"}}, true);
  EXPECT_TRUE(cluster().storage.contains("logs"));
  EXPECT_FALSE(Record("logs").spec.adopted);
}

TEST_F(LifecycleOnFakes, ABackendThatMayHealDoesNotHideTheOthersVolumes) {
  engine().Create("share", {{"backend", "nfs"}});
  rbd().FailNext("lookup", Error(ErrorCode::kUnavailable, "monitors unreachable"));
  EXPECT_EQ(engine().Get("share").record.spec.backend, "nfs");
  // A permission error is reported, never taken for "backend down".
  rbd().FailNext("lookup", Error(ErrorCode::kPermissionDenied, "caps refuse"));
  ExpectError([&] { engine().Get("share"); }, ErrorCode::kPermissionDenied, {"caps refuse"});
}

TEST_F(LifecycleOnFakes, MetricsCountsComeFromTheHostState) {
  engine().Create("db", {});
  engine().Create("share", {{"backend", "nfs"}});
  engine().Mount("db", "c1");
  engine().Mount("db", "c2");
  engine().Mount("share", "c1");
  const AttachmentCounts counts = engine().CountAttachments();
  EXPECT_EQ(counts.attached.at("rbd"), 1);
  EXPECT_EQ(counts.references.at("rbd"), 2);
  EXPECT_EQ(counts.attached.at("nfs"), 1);
  EXPECT_EQ(engine().LocalBackendOf("share"), "nfs");
  EXPECT_EQ(engine().LocalBackendOf("nothing"), std::nullopt);
}

}  // namespace
}  // namespace berth::engine::testing
