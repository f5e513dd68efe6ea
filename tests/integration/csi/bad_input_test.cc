// Every RPC of berth-csi given bad input, over real gRPC: missing ids, unknown parameters, bad
// capacities, unsupported access modes, paths outside the kubelet root, bad secrets and bad
// tokens. Each gets the spec's code and a message naming what is allowed, and nothing changes.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/files.h"
#include "tests/integration/csi/csi_node.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

const auto kAnyWriter = MountCapability(AccessMode::SINGLE_NODE_WRITER);

class CsiBadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { node_ = new CsiNode("bad-input"); }  // NOLINT: one per suite
  static void TearDownTestSuite() {
    delete node_;  // NOLINT
    node_ = nullptr;
  }
  // Whether ListVolumes knows `name`.
  static bool Listed(const std::string& name) {
    auto listed = node_->ListVolumes(0, "");
    EXPECT_TRUE(listed.ok()) << listed.status.error_message();
    for (const auto& entry : listed.reply.entries()) {
      if (entry.volume().volume_id() == name) {
        return true;
      }
    }
    return false;
  }
  static CsiNode* node_;
};
CsiNode* CsiBadInput::node_ = nullptr;

void ExpectRefused(const grpc::Status& status, grpc::StatusCode code, const std::string& words) {
  EXPECT_EQ(status.error_code(), code) << status.error_message();
  EXPECT_NE(status.error_message().find(words), std::string::npos)
      << "'" << status.error_message() << "' does not say '" << words << "'";
}

TEST_F(CsiBadInput, CreateVolumeRefusesAndCreatesNothing) {
  const std::string name = UniqueName("pvc");
  struct Case {
    std::string what;
    std::function<void(csi::v1::CreateVolumeRequest&)> change;
    grpc::StatusCode code;
    std::string words;
  };
  const std::vector<Case> cases = {
      {"no name", [](auto& r) { r.clear_name(); }, grpc::StatusCode::INVALID_ARGUMENT,
       "needs a name"},
      {"unknown parameter", [](auto& r) { (*r.mutable_parameters())["colour"] = "red"; },
       grpc::StatusCode::INVALID_ARGUMENT, "known options"},
      {"size parameter", [](auto& r) { (*r.mutable_parameters())["size"] = "1G"; },
       grpc::StatusCode::INVALID_ARGUMENT, "capacity_range"},
      {"unknown backend", [](auto& r) { (*r.mutable_parameters())["backend"] = "nope"; },
       grpc::StatusCode::INVALID_ARGUMENT, "configured backends"},
      {"bad fstype", [](auto& r) { (*r.mutable_parameters())["fstype"] = "ntfs"; },
       grpc::StatusCode::INVALID_ARGUMENT, "ntfs"},
      {"negative capacity", [](auto& r) { r.mutable_capacity_range()->set_required_bytes(-1); },
       grpc::StatusCode::INVALID_ARGUMENT, "negative"},
      {"capacity over 1 PiB",
       [](auto& r) { r.mutable_capacity_range()->set_required_bytes(int64_t{1} << 51); },
       grpc::StatusCode::INVALID_ARGUMENT, "1 PiB"},
      {"limit below the size",
       [](auto& r) { r.mutable_capacity_range()->set_limit_bytes(16 * kCsiMiB + 1); },
       grpc::StatusCode::OUT_OF_RANGE, "whole MiB"},
      {"no capability", [](auto& r) { r.clear_volume_capabilities(); },
       grpc::StatusCode::INVALID_ARGUMENT, "at least one volume capability"},
      {"multi-node writer on RBD",
       [](auto& r) {
         *r.add_volume_capabilities() = MountCapability(AccessMode::MULTI_NODE_MULTI_WRITER);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "one writing node"},
      {"block on NFS",
       [](auto& r) {
         (*r.mutable_parameters())["backend"] = "nfs";
         *r.add_volume_capabilities() = BlockCapability(AccessMode::SINGLE_NODE_WRITER);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "RBD images only"},
      {"mount flags",
       [](auto& r) { r.mutable_volume_capabilities(0)->mutable_mount()->add_mount_flags("sync"); },
       grpc::StatusCode::INVALID_ARGUMENT, "mount_options"},
      {"no access mode", [](auto& r) { r.mutable_volume_capabilities(0)->clear_access_mode(); },
       grpc::StatusCode::INVALID_ARGUMENT, "no access mode"},
      {"secret without a key", [](auto& r) { (*r.mutable_secrets())["userID"] = "tenant"; },
       grpc::StatusCode::INVALID_ARGUMENT, "no userKey"},
  };
  for (const auto& c : cases) {
    csi::v1::CreateVolumeRequest request;
    request.set_name(name);
    request.mutable_capacity_range()->set_required_bytes(32 * kCsiMiB);
    *request.add_volume_capabilities() = kAnyWriter;
    c.change(request);
    SCOPED_TRACE(c.what);
    ExpectRefused(node_->CreateVolume(request).status, c.code, c.words);
  }
  // A key that is not a cephx key: refused without echoing it.
  csi::v1::CreateVolumeRequest request;
  request.set_name(name);
  *request.add_volume_capabilities() = kAnyWriter;
  (*request.mutable_secrets())["userID"] = "tenant";
  (*request.mutable_secrets())["userKey"] = "s3cr3t-not-a-key";
  auto answer = node_->CreateVolume(request);
  EXPECT_EQ(answer.code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(answer.status.error_message().find("s3cr3t"), std::string::npos);
  EXPECT_EQ(ReadFileIfExists(node_->log_path()).value_or("").find("s3cr3t"), std::string::npos);
  EXPECT_FALSE(Listed(name));
}

TEST_F(CsiBadInput, ControllerCallsRefuseMissingAndUnknownVolumes) {
  ExpectRefused(node_->DeleteVolume("").status, grpc::StatusCode::INVALID_ARGUMENT, "volume_id");
  ExpectRefused(node_->DeleteVolume("../etc").status, grpc::StatusCode::INVALID_ARGUMENT,
                "letters, digits");
  ExpectRefused(node_->ControllerPublish(UniqueName("missing"), "n1", kAnyWriter).status,
                grpc::StatusCode::NOT_FOUND, "does not exist");
  ExpectRefused(node_->ControllerPublish("v", "", kAnyWriter).status,
                grpc::StatusCode::INVALID_ARGUMENT, "node_id");
  ExpectRefused(node_->ControllerGetVolume(UniqueName("missing")).status,
                grpc::StatusCode::NOT_FOUND, "does not exist");
  ExpectRefused(node_->ControllerExpand(UniqueName("missing"), 0).status,
                grpc::StatusCode::INVALID_ARGUMENT, "required_bytes");
  ExpectRefused(node_->ListVolumes(-1, "").status, grpc::StatusCode::INVALID_ARGUMENT,
                "max_entries");
  ExpectRefused(node_->ListVolumes(1, "no/such token").status, grpc::StatusCode::ABORTED,
                "starting_token");
  // A snapshot id berth never gave names no snapshot: deleting it is done, as the spec asks.
  EXPECT_TRUE(node_->DeleteSnapshot("no-at-sign").ok());
  ExpectRefused(node_->CreateSnapshot(UniqueName("missing"), "s1").status,
                grpc::StatusCode::NOT_FOUND, "does not exist");
}

TEST_F(CsiBadInput, NodeCallsRefusePathsOutsideTheKubeletRoot) {
  const std::string pv = UniqueName("pvc");
  ASSERT_TRUE(node_->CreateVolume(pv, 32 * kCsiMiB, kAnyWriter).ok());
  csi::v1::NodeStageVolumeRequest stage;
  stage.set_volume_id(pv);
  *stage.mutable_volume_capability() = kAnyWriter;
  for (const std::string& path :
       {std::string("/tmp/elsewhere"), node_->kubelet_root() + "/../escape", node_->kubelet_root(),
        std::string("relative/path"), std::string("")}) {
    SCOPED_TRACE(path);
    stage.set_staging_target_path(path);
    ExpectRefused(node_->Stage(stage).status, grpc::StatusCode::INVALID_ARGUMENT,
                  "staging_target_path");
  }
  stage.set_staging_target_path(node_->StagingPath(pv));
  stage.clear_volume_capability();
  ExpectRefused(node_->Stage(stage).status, grpc::StatusCode::INVALID_ARGUMENT,
                "volume_capability");
  *stage.mutable_volume_capability() = MountCapability(AccessMode::MULTI_NODE_SINGLE_WRITER);
  ExpectRefused(node_->Stage(stage).status, grpc::StatusCode::INVALID_ARGUMENT, "one writing node");
  stage.set_volume_id(UniqueName("missing"));
  *stage.mutable_volume_capability() = kAnyWriter;
  ExpectRefused(node_->Stage(stage).status, grpc::StatusCode::NOT_FOUND, "does not exist");
  EXPECT_FALSE(IsMounted(node_->StagingPath(pv)));

  csi::v1::NodePublishVolumeRequest publish;
  publish.set_volume_id(pv);
  publish.set_target_path("/var/lib/docker/volumes/x");
  *publish.mutable_volume_capability() = kAnyWriter;
  ExpectRefused(node_->Publish(publish).status, grpc::StatusCode::INVALID_ARGUMENT, "target_path");
  ExpectRefused(node_->Stats(pv, node_->PublishPath("pod", pv)).status, grpc::StatusCode::NOT_FOUND,
                "not staged or published");
  ExpectRefused(node_->Stats(pv, "/etc").status, grpc::StatusCode::INVALID_ARGUMENT, "volume_path");
  ExpectRefused(node_->Unpublish("", "pod").status, grpc::StatusCode::INVALID_ARGUMENT,
                "volume_id");
  // Nothing was attached or mounted by any of it: the volume deletes at once.
  EXPECT_TRUE(node_->DeleteVolume(pv).ok());
}

TEST_F(CsiBadInput, NodeCallsTouchOnlyTheirOwnVolumesMountsAndNoSymlinks) {
  const std::string pv = UniqueName("pvc");
  ASSERT_TRUE(node_->CreateVolume(pv, 32 * kCsiMiB, kAnyWriter).ok());
  ASSERT_TRUE(node_->Stage(pv, kAnyWriter).ok());
  ASSERT_TRUE(node_->Publish(pv, "pod", kAnyWriter).ok());
  // Another volume's id with this volume's paths: refused, and nothing is unmounted.
  const std::string other = UniqueName("pvc");
  csi::v1::NodeUnpublishVolumeRequest unpublish;
  unpublish.set_volume_id(other);
  unpublish.set_target_path(node_->PublishPath("pod", pv));
  csi::v1::NodeUnpublishVolumeResponse unpublished;
  grpc::ClientContext context;
  ExpectRefused(node_->process().Node()->NodeUnpublishVolume(&context, unpublish, &unpublished),
                grpc::StatusCode::FAILED_PRECONDITION, "not as volume " + other);
  csi::v1::NodeUnstageVolumeRequest unstage;
  unstage.set_volume_id(other);
  unstage.set_staging_target_path(node_->StagingPath(pv));
  csi::v1::NodeUnstageVolumeResponse unstaged;
  grpc::ClientContext unstage_context;
  ExpectRefused(node_->process().Node()->NodeUnstageVolume(&unstage_context, unstage, &unstaged),
                grpc::StatusCode::FAILED_PRECONDITION, "not as volume " + other);
  EXPECT_TRUE(IsMounted(node_->PublishPath("pod", pv)));
  EXPECT_TRUE(IsMounted(node_->StagingPath(pv)));
  // Nor through a volume staged here with nothing mounted (a block volume's stage).
  const auto block = BlockCapability(AccessMode::SINGLE_NODE_WRITER);
  const std::string raw = UniqueName("pvc");
  ASSERT_TRUE(node_->CreateVolume(raw, 16 * kCsiMiB, block).ok());
  csi::v1::NodeStageVolumeRequest stage_raw;
  stage_raw.set_volume_id(raw);
  stage_raw.set_staging_target_path(node_->kubelet_root() + "/plugins/raw-staging/" + raw);
  *stage_raw.mutable_volume_capability() = block;
  ASSERT_TRUE(node_->Stage(stage_raw).ok());
  unstage.set_volume_id(raw);
  grpc::ClientContext raw_context;
  ExpectRefused(node_->process().Node()->NodeUnstageVolume(&raw_context, unstage, &unstaged),
                grpc::StatusCode::FAILED_PRECONDITION, "not as volume " + raw);
  EXPECT_TRUE(IsMounted(node_->StagingPath(pv)));
  unstage.set_staging_target_path(stage_raw.staging_target_path());
  grpc::ClientContext raw_unstage_context;
  ASSERT_TRUE(
      node_->process().Node()->NodeUnstageVolume(&raw_unstage_context, unstage, &unstaged).ok());
  EXPECT_TRUE(node_->DeleteVolume(raw).ok());

  // A path through a symbolic link inside the root, pointing out of it.
  const std::string outside = node_->base() + "/outside";
  std::filesystem::create_directories(outside);
  std::filesystem::create_directory_symlink(outside, node_->kubelet_root() + "/link");
  csi::v1::NodeStageVolumeRequest stage;
  stage.set_volume_id(other);
  stage.set_staging_target_path(node_->kubelet_root() + "/link/globalmount");
  *stage.mutable_volume_capability() = kAnyWriter;
  ExpectRefused(node_->Stage(stage).status, grpc::StatusCode::INVALID_ARGUMENT, "symbolic link");
  EXPECT_TRUE(std::filesystem::is_empty(outside));

  ASSERT_TRUE(node_->Unpublish(pv, "pod").ok());
  ASSERT_TRUE(node_->Unstage(pv).ok());
  EXPECT_TRUE(node_->DeleteVolume(pv).ok());
}

TEST_F(CsiBadInput, ListVolumesPagesThroughEveryVolumeOnce) {
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    names.push_back(UniqueName("pvc-page"));
    ASSERT_TRUE(node_->CreateVolume(names.back(), 16 * kCsiMiB, kAnyWriter).ok());
  }
  std::map<std::string, int> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = node_->ListVolumes(2, token);
    ASSERT_TRUE(page.ok()) << page.status.error_message();
    EXPECT_LE(page.reply.entries_size(), 2);
    for (const auto& entry : page.reply.entries()) {
      ++seen[entry.volume().volume_id()];
    }
    token = page.reply.next_token();
    ++pages;
  } while (!token.empty() && pages < 10000);
  for (const auto& name : names) {
    EXPECT_EQ(seen[name], 1) << name;
    EXPECT_TRUE(node_->DeleteVolume(name).ok());
  }
}

}  // namespace
}  // namespace berth::testing
