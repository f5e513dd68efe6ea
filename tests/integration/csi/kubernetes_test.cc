// berth-csi driven the way Kubernetes drives it, call by call: external-provisioner's
// CreateVolume, external-attacher's ControllerPublish, kubelet's stage and publish with its
// real paths, and back down; a pod restarted on its node and moved to another host id; RWX on
// NFS from two hosts; idempotence and refusals. Also Docker Swarm's sequence, which stages once
// and never unstages. Real Ceph and NFS behind it (the lab).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "common/subprocess.h"
#include "tests/integration/csi/csi_node.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

std::string WriteBlob(const std::string& dir, const std::string& name, size_t kib) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary);
  std::string chunk(1024, '\0');
  for (size_t i = 0; i < kib; ++i) {
    for (size_t j = 0; j < chunk.size(); ++j) {
      chunk[j] = static_cast<char>((i * 31 + j * 7) & 0xff);
    }
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  }
  out.close();
  ::sync();
  return Sha256(path);
}

const auto kExt4Writer = MountCapability(AccessMode::SINGLE_NODE_WRITER, "ext4");

TEST(CsiKubernetes, ProvisionAttachStagePublishThenAllTheWayBack) {
  CsiNode node("k8s-a");
  const std::string pv = UniqueName("pvc");
  auto created = node.CreateVolume(pv, 64 * kCsiMiB, kExt4Writer);
  ASSERT_TRUE(created.ok()) << created.status.error_message();
  EXPECT_EQ(created.reply.volume().volume_id(), pv);
  EXPECT_EQ(created.reply.volume().capacity_bytes(), 64 * kCsiMiB);

  const std::string node_id = node.NodeInfo().reply.node_id();
  EXPECT_EQ(node_id, node.host_id());
  ASSERT_TRUE(node.ControllerPublish(pv, node_id, kExt4Writer).ok());
  auto staged = node.Stage(pv, kExt4Writer);
  ASSERT_TRUE(staged.ok()) << staged.status.error_message();
  EXPECT_TRUE(IsMounted(node.StagingPath(pv)));
  ASSERT_TRUE(node.Publish(pv, "pod-1", kExt4Writer).ok());
  const std::string target = node.PublishPath("pod-1", pv);
  ASSERT_TRUE(IsMounted(target));
  const std::string sum = WriteBlob(target, "blob", 2048);

  auto stats = node.Stats(pv, target);
  ASSERT_TRUE(stats.ok()) << stats.status.error_message();
  ASSERT_EQ(stats.reply.usage_size(), 2);
  EXPECT_GT(stats.reply.usage(0).total(), 48 * kCsiMiB);
  EXPECT_GE(stats.reply.usage(0).used(), 2 * kCsiMiB);
  EXPECT_GT(stats.reply.usage(1).total(), 0);
  EXPECT_FALSE(stats.reply.volume_condition().abnormal())
      << stats.reply.volume_condition().message();
  auto got = node.ControllerGetVolume(pv);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got.reply.status().published_node_ids_size(), 1);
  EXPECT_EQ(got.reply.status().published_node_ids(0), node_id);

  // Deleting a volume in use is refused, naming the host.
  auto refused = node.DeleteVolume(pv);
  EXPECT_EQ(refused.code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.status.error_message().find(node_id), std::string::npos)
      << refused.status.error_message();

  ASSERT_TRUE(node.Unpublish(pv, "pod-1").ok());
  EXPECT_FALSE(IsMounted(target));
  EXPECT_FALSE(std::filesystem::exists(target));
  ASSERT_TRUE(node.Unstage(pv).ok());
  EXPECT_FALSE(IsMounted(node.StagingPath(pv)));
  EXPECT_TRUE(node.Unstage(pv).ok());  // kubelet's retry of a call that worked
  ASSERT_TRUE(node.ControllerUnpublish(pv, node_id).ok());
  EXPECT_EQ(node.ControllerGetVolume(pv).reply.status().published_node_ids_size(), 0);

  // The pod comes back on the same node: the same data, never formatted twice.
  ASSERT_TRUE(node.Stage(pv, kExt4Writer).ok());
  ASSERT_TRUE(node.Publish(pv, "pod-2", kExt4Writer).ok());
  EXPECT_EQ(Sha256(node.PublishPath("pod-2", pv) + "/blob"), sum);
  EXPECT_EQ(node.LogCount("after formatting"), 1);
  ASSERT_TRUE(node.Unpublish(pv, "pod-2").ok());
  ASSERT_TRUE(node.Unstage(pv).ok());

  ASSERT_TRUE(node.DeleteVolume(pv).ok());
  EXPECT_EQ(node.ControllerGetVolume(pv).code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(node.DeleteVolume(pv).ok());  // idempotent
}

TEST(CsiKubernetes, APodMovesToAnotherHostOnlyOnceTheFirstLetsGo) {
  CsiNode a("k8s-a");
  CsiNode b("k8s-b");
  const std::string pv = UniqueName("pvc");
  ASSERT_TRUE(a.CreateVolume(pv, 64 * kCsiMiB, kExt4Writer).ok());
  ASSERT_TRUE(a.Stage(pv, kExt4Writer).ok());
  ASSERT_TRUE(a.Publish(pv, "pod-a", kExt4Writer).ok());
  const std::string sum = WriteBlob(a.PublishPath("pod-a", pv), "blob", 1024);

  // The attacher asks for B while A still writes: refused, naming A.
  auto refused = b.ControllerPublish(pv, b.host_id(), kExt4Writer);
  EXPECT_EQ(refused.code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.status.error_message().find(a.host_id()), std::string::npos)
      << refused.status.error_message();
  // A node that stages anyway (a CO that skipped the attach) finds the lock taken.
  EXPECT_FALSE(b.Stage(pv, kExt4Writer).ok());
  EXPECT_FALSE(IsMounted(b.StagingPath(pv)));

  ASSERT_TRUE(a.Unpublish(pv, "pod-a").ok());
  ASSERT_TRUE(a.Unstage(pv).ok());
  ASSERT_TRUE(a.ControllerUnpublish(pv, a.host_id()).ok());
  ASSERT_TRUE(b.ControllerPublish(pv, b.host_id(), kExt4Writer).ok());
  ASSERT_TRUE(b.Stage(pv, kExt4Writer).ok());
  ASSERT_TRUE(b.Publish(pv, "pod-b", kExt4Writer).ok());
  EXPECT_EQ(Sha256(b.PublishPath("pod-b", pv) + "/blob"), sum);
  EXPECT_EQ(b.LogCount("after formatting"), 0);
  ASSERT_TRUE(b.Unpublish(pv, "pod-b").ok());
  ASSERT_TRUE(b.Unstage(pv).ok());
  EXPECT_TRUE(a.DeleteVolume(pv).ok());
}

TEST(CsiKubernetes, NfsReadWriteManyFromTwoHosts) {
  CsiNode a("k8s-a");
  CsiNode b("k8s-b");
  const auto rwx = MountCapability(AccessMode::MULTI_NODE_MULTI_WRITER);
  const std::string pv = UniqueName("pvc");
  auto created = a.CreateVolume(pv, 16 * kCsiMiB, rwx, {{"backend", "nfs"}});
  ASSERT_TRUE(created.ok()) << created.status.error_message();
  for (CsiNode* node : {&a, &b}) {
    ASSERT_TRUE(node->ControllerPublish(pv, node->host_id(), rwx).ok());
    ASSERT_TRUE(node->Stage(pv, rwx).ok());
    auto published = node->Publish(pv, "pod", rwx);
    ASSERT_TRUE(published.ok()) << published.status.error_message();
  }
  const std::string sum = WriteBlob(a.PublishPath("pod", pv), "from-a", 256);
  EXPECT_EQ(Sha256(b.PublishPath("pod", pv) + "/from-a"), sum);
  const std::string sum_b = WriteBlob(b.PublishPath("pod", pv), "from-b", 64);
  EXPECT_EQ(Sha256(a.PublishPath("pod", pv) + "/from-b"), sum_b);
  for (CsiNode* node : {&a, &b}) {
    ASSERT_TRUE(node->Unpublish(pv, "pod").ok());
    ASSERT_TRUE(node->Unstage(pv).ok());
    EXPECT_FALSE(IsMounted(node->PublishPath("pod", pv)));
  }
  EXPECT_TRUE(a.DeleteVolume(pv).ok());
}

TEST(CsiKubernetes, CreateVolumeIsIdempotentByName) {
  CsiNode node("k8s-a");
  const std::string pv = UniqueName("pvc");
  ASSERT_TRUE(node.CreateVolume(pv, 32 * kCsiMiB, kExt4Writer).ok());
  auto again = node.CreateVolume(pv, 32 * kCsiMiB, kExt4Writer);
  ASSERT_TRUE(again.ok()) << again.status.error_message();
  EXPECT_EQ(again.reply.volume().capacity_bytes(), 32 * kCsiMiB);
  auto other = node.CreateVolume(pv, 64 * kCsiMiB, kExt4Writer);
  EXPECT_EQ(other.code(), grpc::StatusCode::ALREADY_EXISTS) << other.status.error_message();
  EXPECT_EQ(node.ControllerGetVolume(pv).reply.volume().capacity_bytes(), 32 * kCsiMiB);

  // ValidateVolumeCapabilities confirms what the volume can give, and only that.
  for (const auto mode : {AccessMode::SINGLE_NODE_WRITER, AccessMode::MULTI_NODE_MULTI_WRITER}) {
    csi::v1::ValidateVolumeCapabilitiesRequest request;
    request.set_volume_id(pv);
    *request.add_volume_capabilities() = MountCapability(mode);
    csi::v1::ValidateVolumeCapabilitiesResponse reply;
    grpc::ClientContext context;
    ASSERT_TRUE(
        node.process().Controller()->ValidateVolumeCapabilities(&context, request, &reply).ok());
    EXPECT_EQ(reply.has_confirmed(), mode == AccessMode::SINGLE_NODE_WRITER) << reply.message();
    EXPECT_EQ(reply.message().empty(), mode == AccessMode::SINGLE_NODE_WRITER) << reply.message();
  }
  EXPECT_TRUE(node.DeleteVolume(pv).ok());
}

TEST(CsiKubernetes, SnapshotRestoreAndCloneCarryTheData) {
  CsiNode node("k8s-a");
  const std::string pv = UniqueName("pvc");
  ASSERT_TRUE(node.CreateVolume(pv, 64 * kCsiMiB, kExt4Writer).ok());
  ASSERT_TRUE(node.Stage(pv, kExt4Writer).ok());
  ASSERT_TRUE(node.Publish(pv, "pod", kExt4Writer).ok());
  const std::string sum = WriteBlob(node.PublishPath("pod", pv), "blob", 512);

  const std::string snapshot_name = UniqueName("snapshot");
  auto snapshot = node.CreateSnapshot(pv, snapshot_name);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status.error_message();
  const std::string snapshot_id = snapshot.reply.snapshot().snapshot_id();
  EXPECT_TRUE(snapshot.reply.snapshot().ready_to_use());
  EXPECT_EQ(snapshot.reply.snapshot().source_volume_id(), pv);
  EXPECT_TRUE(node.CreateSnapshot(pv, snapshot_name).ok());  // idempotent
  // Snapshot names are unique across volumes, as the CO expects.
  const std::string other = UniqueName("pvc");
  ASSERT_TRUE(node.CreateVolume(other, 16 * kCsiMiB, kExt4Writer).ok());
  EXPECT_EQ(node.CreateSnapshot(other, snapshot_name).code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(node.DeleteVolume(other).ok());
  csi::v1::ListSnapshotsRequest by_source;
  by_source.set_source_volume_id(pv);
  auto listed = node.ListSnapshots(by_source);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed.reply.entries_size(), 1);
  EXPECT_EQ(listed.reply.entries(0).snapshot().snapshot_id(), snapshot_id);

  // Restore into a new PVC, and clone the volume itself.
  const std::string restored = UniqueName("pvc");
  csi::v1::CreateVolumeRequest restore;
  restore.set_name(restored);
  *restore.add_volume_capabilities() = kExt4Writer;
  restore.mutable_volume_content_source()->mutable_snapshot()->set_snapshot_id(snapshot_id);
  auto made = node.CreateVolume(restore);
  ASSERT_TRUE(made.ok()) << made.status.error_message();
  EXPECT_EQ(made.reply.volume().content_source().snapshot().snapshot_id(), snapshot_id);
  const std::string cloned = UniqueName("pvc");
  csi::v1::CreateVolumeRequest clone;
  clone.set_name(cloned);
  *clone.add_volume_capabilities() = kExt4Writer;
  clone.mutable_volume_content_source()->mutable_volume()->set_volume_id(pv);
  auto clone_made = node.CreateVolume(clone);
  ASSERT_TRUE(clone_made.ok()) << clone_made.status.error_message();

  for (const auto& copy : {restored, cloned}) {
    ASSERT_TRUE(node.Stage(copy, kExt4Writer).ok());
    ASSERT_TRUE(node.Publish(copy, "pod", kExt4Writer).ok());
    EXPECT_EQ(Sha256(node.PublishPath("pod", copy) + "/blob"), sum) << copy;
    ASSERT_TRUE(node.Unpublish(copy, "pod").ok());
    ASSERT_TRUE(node.Unstage(copy).ok());
  }
  EXPECT_EQ(node.LogCount("after formatting"), 1);
  ASSERT_TRUE(node.Unpublish(pv, "pod").ok());
  ASSERT_TRUE(node.Unstage(pv).ok());
  // Restored volumes are flattened: the snapshot deletes while they live on.
  auto deleted = node.DeleteSnapshot(snapshot_id);
  EXPECT_TRUE(deleted.ok()) << deleted.status.error_message();
  EXPECT_TRUE(node.DeleteSnapshot(snapshot_id).ok());  // idempotent
  EXPECT_EQ(node.ListSnapshots(by_source).reply.entries_size(), 0);
  for (const auto& volume : {restored, cloned, pv}) {
    auto removed = node.DeleteVolume(volume);
    EXPECT_TRUE(removed.ok()) << volume << ": " << removed.status.error_message();
  }
}

TEST(CsiKubernetes, ExpandOfflineThenOnline) {
  CsiNode node("k8s-a");
  // Offline (ext4): the controller grows the image; the filesystem follows at the next stage.
  const std::string pv = UniqueName("pvc");
  ASSERT_TRUE(node.CreateVolume(pv, 64 * kCsiMiB, kExt4Writer).ok());
  auto grown = node.ControllerExpand(pv, 96 * kCsiMiB);
  ASSERT_TRUE(grown.ok()) << grown.status.error_message();
  EXPECT_EQ(grown.reply.capacity_bytes(), 96 * kCsiMiB);
  EXPECT_TRUE(grown.reply.node_expansion_required());
  ASSERT_TRUE(node.Stage(pv, kExt4Writer).ok());
  ASSERT_TRUE(node.Publish(pv, "pod", kExt4Writer).ok());
  const std::string target = node.PublishPath("pod", pv);
  auto offline = node.NodeExpand(pv, target, 96 * kCsiMiB);
  ASSERT_TRUE(offline.ok()) << offline.status.error_message();
  EXPECT_GT(node.Stats(pv, target).reply.usage(0).total(), 80 * kCsiMiB);
  // A smaller size than it has is already satisfied.
  EXPECT_EQ(node.ControllerExpand(pv, 64 * kCsiMiB).reply.capacity_bytes(), 96 * kCsiMiB);
  ASSERT_TRUE(node.Unpublish(pv, "pod").ok());
  ASSERT_TRUE(node.Unstage(pv).ok());
  EXPECT_TRUE(node.DeleteVolume(pv).ok());

  // Online (xfs, which this kernel grows mounted; ext4 may need CAP_SYS_RESOURCE): grown while
  // the pod writes, the data intact.
  const auto xfs = MountCapability(AccessMode::SINGLE_NODE_WRITER, "xfs");
  const std::string online_pv = UniqueName("pvc");
  ASSERT_TRUE(node.CreateVolume(online_pv, 320 * kCsiMiB, xfs).ok());
  ASSERT_TRUE(node.Stage(online_pv, xfs).ok());
  ASSERT_TRUE(node.Publish(online_pv, "pod", xfs).ok());
  const std::string online_target = node.PublishPath("pod", online_pv);
  const std::string sum = WriteBlob(online_target, "blob", 1024);
  const int64_t before = node.Stats(online_pv, online_target).reply.usage(0).total();
  ASSERT_TRUE(node.ControllerExpand(online_pv, 448 * kCsiMiB).ok());
  auto online = node.NodeExpand(online_pv, online_target, 448 * kCsiMiB);
  ASSERT_TRUE(online.ok()) << online.status.error_message();
  EXPECT_EQ(online.reply.capacity_bytes(), 448 * kCsiMiB);
  EXPECT_GT(node.Stats(online_pv, online_target).reply.usage(0).total(), before + 96 * kCsiMiB);
  EXPECT_EQ(Sha256(online_target + "/blob"), sum);
  ASSERT_TRUE(node.Unpublish(online_pv, "pod").ok());
  ASSERT_TRUE(node.Unstage(online_pv).ok());
  EXPECT_TRUE(node.DeleteVolume(online_pv).ok());
}

TEST(CsiKubernetes, ABlockVolumeIsWrittenAndReadThroughItsDeviceFileAndNeverFormatted) {
  CsiNode a("k8s-a");
  CsiNode b("k8s-b");
  const auto block = BlockCapability(AccessMode::SINGLE_NODE_WRITER);
  const std::string pv = UniqueName("pvc");
  auto created = a.CreateVolume(pv, 32 * kCsiMiB, block);
  ASSERT_TRUE(created.ok()) << created.status.error_message();
  // kubelet's paths for block volumes.
  const auto stage_request = [&](CsiNode& node) {
    csi::v1::NodeStageVolumeRequest request;
    request.set_volume_id(pv);
    request.set_staging_target_path(node.kubelet_root() +
                                    "/plugins/kubernetes.io/csi/volumeDevices/staging/" + pv);
    *request.mutable_volume_capability() = block;
    return request;
  };
  const auto publish_request = [&](CsiNode& node) {
    csi::v1::NodePublishVolumeRequest request;
    request.set_volume_id(pv);
    request.set_staging_target_path(stage_request(node).staging_target_path());
    request.set_target_path(node.kubelet_root() +
                            "/plugins/kubernetes.io/csi/volumeDevices/publish/" + pv + "/pod-uid");
    *request.mutable_volume_capability() = block;
    return request;
  };
  const auto unstage = [&](CsiNode& node) {
    csi::v1::NodeUnstageVolumeRequest request;
    request.set_volume_id(pv);
    request.set_staging_target_path(stage_request(node).staging_target_path());
    csi::v1::NodeUnstageVolumeResponse reply;
    grpc::ClientContext context;
    return node.process().Node()->NodeUnstageVolume(&context, request, &reply);
  };

  // A block volume is never staged as a filesystem, so it is never formatted.
  EXPECT_EQ(a.Stage(pv, kExt4Writer).code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(a.Stage(stage_request(a)).ok());
  auto published = a.Publish(publish_request(a));
  ASSERT_TRUE(published.ok()) << published.status.error_message();
  const std::string device = publish_request(a).target_path();
  const std::string blob = a.base() + "/blob";
  ASSERT_EQ(RunCommand({"dd", "if=/dev/urandom", "of=" + blob, "bs=1M", "count=2", "status=none"})
                .exit_code,
            0);
  auto wrote = RunCommand(
      {"dd", "if=" + blob, "of=" + device, "bs=1M", "conv=fsync,notrunc", "status=none"});
  ASSERT_EQ(wrote.exit_code, 0) << wrote.err;
  const auto read_back = [](const std::string& from, const std::string& to) {
    return RunCommand({"dd", "if=" + from, "of=" + to, "bs=1M", "count=2", "status=none"});
  };
  ASSERT_EQ(read_back(device, a.base() + "/back").exit_code, 0);
  EXPECT_EQ(Sha256(a.base() + "/back"), Sha256(blob));
  auto stats = a.Stats(pv, device);
  ASSERT_TRUE(stats.ok()) << stats.status.error_message();
  EXPECT_EQ(stats.reply.usage(0).total(), 32 * kCsiMiB);
  EXPECT_FALSE(stats.reply.volume_condition().abnormal());
  EXPECT_EQ(b.Stage(stage_request(b)).code(), grpc::StatusCode::FAILED_PRECONDITION);

  csi::v1::NodeUnpublishVolumeRequest unpublish;
  unpublish.set_volume_id(pv);
  unpublish.set_target_path(device);
  grpc::ClientContext context;
  csi::v1::NodeUnpublishVolumeResponse unpublished;
  ASSERT_TRUE(a.process().Node()->NodeUnpublishVolume(&context, unpublish, &unpublished).ok());
  EXPECT_FALSE(std::filesystem::exists(device));
  ASSERT_TRUE(unstage(a).ok());
  EXPECT_EQ(a.ControllerGetVolume(pv).reply.status().published_node_ids_size(), 0);

  // The same bytes on another host.
  ASSERT_TRUE(b.Stage(stage_request(b)).ok());
  ASSERT_TRUE(b.Publish(publish_request(b)).ok());
  ASSERT_EQ(read_back(publish_request(b).target_path(), b.base() + "/back").exit_code, 0);
  EXPECT_EQ(Sha256(b.base() + "/back"), Sha256(blob));
  EXPECT_EQ(a.LogCount("was never formatted"), 0);
  EXPECT_EQ(b.LogCount("was never formatted"), 0);
  grpc::ClientContext b_context;
  unpublish.set_target_path(publish_request(b).target_path());
  ASSERT_TRUE(b.process().Node()->NodeUnpublishVolume(&b_context, unpublish, &unpublished).ok());
  ASSERT_TRUE(unstage(b).ok());
  EXPECT_TRUE(a.DeleteVolume(pv).ok());
}

TEST(CsiKubernetes, ReadOnlyManyNeedsNoLock) {
  CsiNode a("k8s-a");
  CsiNode b("k8s-b");
  const std::string pv = UniqueName("pvc");
  ASSERT_TRUE(a.CreateVolume(pv, 32 * kCsiMiB, kExt4Writer).ok());
  ASSERT_TRUE(a.Stage(pv, kExt4Writer).ok());
  ASSERT_TRUE(a.Publish(pv, "pod", kExt4Writer).ok());
  const std::string sum = WriteBlob(a.PublishPath("pod", pv), "blob", 128);
  ASSERT_TRUE(a.Unpublish(pv, "pod").ok());
  ASSERT_TRUE(a.Unstage(pv).ok());

  const auto rox = MountCapability(AccessMode::MULTI_NODE_READER_ONLY);
  for (CsiNode* node : {&a, &b}) {
    ASSERT_TRUE(node->ControllerPublish(pv, node->host_id(), rox).ok());
    ASSERT_TRUE(node->Stage(pv, rox).ok());
    ASSERT_TRUE(node->Publish(pv, "reader", rox, true).ok());
    EXPECT_EQ(Sha256(node->PublishPath("reader", pv) + "/blob"), sum);
    EXPECT_FALSE(std::ofstream(node->PublishPath("reader", pv) + "/new").good());
  }
  EXPECT_EQ(a.ControllerGetVolume(pv).reply.status().published_node_ids_size(), 0);
  for (CsiNode* node : {&a, &b}) {
    ASSERT_TRUE(node->Unpublish(pv, "reader").ok());
    ASSERT_TRUE(node->Unstage(pv).ok());
  }
  EXPECT_TRUE(a.DeleteVolume(pv).ok());
}

// Swarm's node calls as dockerd 28 makes them: one stage per volume for as long as dockerd runs,
// then a publish and an unpublish per task, and never an unstage. With
// --release-at-last-unpublish (berth's Swarm plugin) the volume leaves the node with its last
// task, so another host can take it and it can be deleted, and the next task's publish stages
// it again, with its data and without a format.
TEST(CsiSwarm, TheLastUnpublishReleasesTheVolumeAndAPublishStagesItAgain) {
  CsiNode a("swarm-a", {"--release-at-last-unpublish"});
  CsiNode b("swarm-b", {"--release-at-last-unpublish"});
  const std::string volume = UniqueName("cluster");
  ASSERT_TRUE(a.CreateVolume(volume, 64 * kCsiMiB, kExt4Writer).ok());
  ASSERT_TRUE(a.ControllerPublish(volume, a.host_id(), kExt4Writer).ok());
  ASSERT_TRUE(a.Stage(volume, kExt4Writer).ok());
  ASSERT_TRUE(a.Publish(volume, "task-1", kExt4Writer).ok());
  const std::string sum = WriteBlob(a.PublishPath("task-1", volume), "blob", 512);
  // Two tasks at once: the first to leave does not take the volume from the second.
  ASSERT_TRUE(a.Publish(volume, "task-2", kExt4Writer).ok());
  ASSERT_TRUE(a.Unpublish(volume, "task-1").ok());
  EXPECT_TRUE(IsMounted(a.StagingPath(volume)));
  EXPECT_EQ(Sha256(a.PublishPath("task-2", volume) + "/blob"), sum);
  ASSERT_TRUE(a.Unpublish(volume, "task-2").ok());
  EXPECT_FALSE(IsMounted(a.StagingPath(volume)));
  ASSERT_TRUE(a.ControllerUnpublish(volume, a.host_id()).ok());

  // Another node takes it (its lock is free), then gives it back the same way.
  ASSERT_TRUE(b.ControllerPublish(volume, b.host_id(), kExt4Writer).ok());
  ASSERT_TRUE(b.Stage(volume, kExt4Writer).ok());
  ASSERT_TRUE(b.Publish(volume, "task-3", kExt4Writer).ok());
  EXPECT_EQ(Sha256(b.PublishPath("task-3", volume) + "/blob"), sum);
  ASSERT_TRUE(b.Unpublish(volume, "task-3").ok());
  ASSERT_TRUE(b.ControllerUnpublish(volume, b.host_id()).ok());

  // Back on A, which Swarm still counts as staged: the publish alone brings it back.
  ASSERT_TRUE(a.ControllerPublish(volume, a.host_id(), kExt4Writer).ok());
  auto published = a.Publish(volume, "task-4", kExt4Writer);
  ASSERT_TRUE(published.ok()) << published.status.error_message();
  EXPECT_EQ(Sha256(a.PublishPath("task-4", volume) + "/blob"), sum);
  ASSERT_TRUE(a.Unpublish(volume, "task-4").ok());
  EXPECT_TRUE(a.Unstage(volume).ok());  // should Swarm ever call it: nothing left to do
  ASSERT_TRUE(a.ControllerUnpublish(volume, a.host_id()).ok());
  EXPECT_EQ(a.LogCount("after formatting"), 1);
  EXPECT_EQ(b.LogCount("after formatting"), 0);
  EXPECT_TRUE(a.DeleteVolume(volume).ok());
}

}  // namespace
}  // namespace berth::testing
