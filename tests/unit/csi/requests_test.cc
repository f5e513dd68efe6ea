// What berth-csi makes of a request before the engine sees it: access modes per backend type,
// CreateVolume's parameters and capacity, node paths, snapshot ids and secrets.
#include <gtest/gtest.h>

#include "engine/config.h"
#include "plugin/csi/create_request.h"
#include "plugin/csi/grpc_status.h"
#include "plugin/csi/ids.h"
#include "plugin/csi/node_paths.h"
#include "plugin/csi/secrets.h"
#include "plugin/csi/volume_capability.h"
#include "tests/unit/expect_error.h"

namespace berth::csi {
namespace {

using berth::testing::ExpectError;
using berth::testing::kInvalid;
using Mode = ::csi::v1::VolumeCapability::AccessMode;

::csi::v1::VolumeCapability Mount(Mode::Mode mode) {
  ::csi::v1::VolumeCapability capability;
  capability.mutable_mount();
  capability.mutable_access_mode()->set_mode(mode);
  return capability;
}

engine::Config TwoBackends() {
  return engine::ParseConfig(R"({"host_id": "h", "default_backend": "rbd", "backends": {
      "rbd": {"type": "rbd", "pool": "p"}, "nfs": {"type": "nfs", "server": "s"}}})");
}

TEST(CsiCapability, RbdHasOneWritingNodeAndNfsTakesEveryMode) {
  for (auto mode :
       {Mode::SINGLE_NODE_WRITER, Mode::SINGLE_NODE_SINGLE_WRITER, Mode::SINGLE_NODE_MULTI_WRITER,
        Mode::SINGLE_NODE_READER_ONLY, Mode::MULTI_NODE_READER_ONLY}) {
    EXPECT_NO_THROW(CheckCapability(Mount(mode), "rbd")) << AccessModeName(mode);
  }
  for (auto mode : {Mode::MULTI_NODE_SINGLE_WRITER, Mode::MULTI_NODE_MULTI_WRITER}) {
    ExpectError([&] { CheckCapability(Mount(mode), "rbd"); }, kInvalid,
                {AccessModeName(mode), "one writing node", "SINGLE_NODE_WRITER", "nfs"});
    EXPECT_NO_THROW(CheckCapability(Mount(mode), "nfs"));
  }
  EXPECT_TRUE(CheckCapability(Mount(Mode::MULTI_NODE_READER_ONLY), "rbd").read_only);
  EXPECT_FALSE(CheckCapability(Mount(Mode::SINGLE_NODE_WRITER), "rbd").read_only);
  EXPECT_TRUE(CheckCapability(Mount(Mode::SINGLE_NODE_SINGLE_WRITER), "rbd").single_writer);
}

TEST(CsiCapability, BlockIsRbdOnlyAndEveryCapabilityNamesItsTypeAndMode) {
  ::csi::v1::VolumeCapability block;
  block.mutable_block();
  block.mutable_access_mode()->set_mode(Mode::SINGLE_NODE_WRITER);
  EXPECT_TRUE(CheckCapability(block, "rbd").block);
  ExpectError([&] { CheckCapability(block, "nfs"); }, kInvalid, {"RBD images only"});
  ::csi::v1::VolumeCapability no_type;
  no_type.mutable_access_mode()->set_mode(Mode::SINGLE_NODE_WRITER);
  ExpectError([&] { CheckCapability(no_type, "rbd"); }, kInvalid, {"mount or block"});
  ::csi::v1::VolumeCapability no_mode;
  no_mode.mutable_mount();
  ExpectError([&] { CheckCapability(no_mode, "rbd"); }, kInvalid, {"no access mode"});
  auto flags = Mount(Mode::SINGLE_NODE_WRITER);
  flags.mutable_mount()->add_mount_flags("noatime");
  ExpectError([&] { CheckCapability(flags, "rbd"); }, kInvalid, {"noatime", "mount_options"});
}

::csi::v1::CreateVolumeRequest Request(int64_t required, int64_t limit = 0) {
  ::csi::v1::CreateVolumeRequest request;
  request.set_name("pvc-1");
  *request.add_volume_capabilities() = Mount(Mode::SINGLE_NODE_WRITER);
  request.mutable_capacity_range()->set_required_bytes(required);
  request.mutable_capacity_range()->set_limit_bytes(limit);
  return request;
}

TEST(CsiCreate, CapacityRoundsUpToWholeMiBWithinTheLimit) {
  const auto config = TwoBackends();
  EXPECT_EQ(PlanCreate(Request(1), config).options.at("size"), "1048576B");
  EXPECT_EQ(PlanCreate(Request(5 << 20), config).options.at("size"), "5242880B");
  EXPECT_EQ(PlanCreate(Request(0, (5 << 20) + 7), config).options.at("size"), "5242880B");
  EXPECT_FALSE(PlanCreate(Request(0), config).options.contains("size"));  // the default
  try {
    PlanCreate(Request((5 << 20) + 1, (5 << 20) + 2), config);
    ADD_FAILURE() << "a range with no whole MiB in it was taken";
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status().error_code(), grpc::StatusCode::OUT_OF_RANGE);
  }
  ExpectError([&] { PlanCreate(Request(-1), config); }, kInvalid, {"negative"});
}

TEST(CsiCreate, ParametersAreBerthOptionsAndTheSidecarsKeysAreSkipped) {
  const auto config = TwoBackends();
  auto request = Request(64 << 20);
  (*request.mutable_parameters())["fstype"] = "xfs";
  (*request.mutable_parameters())["csi.storage.k8s.io/pvc/name"] = "data";
  request.mutable_capacity_range()->set_required_bytes(int64_t{512} << 20);
  const CreatePlan plan = PlanCreate(request, config);
  EXPECT_EQ(plan.options.at("fstype"), "xfs");
  EXPECT_EQ(plan.options.at("backend"), "rbd");
  EXPECT_EQ(plan.backend_type, "rbd");
  EXPECT_FALSE(plan.options.contains("csi.storage.k8s.io/pvc/name"));

  auto fs_type = Request(64 << 20);
  fs_type.mutable_volume_capabilities(0)->mutable_mount()->set_fs_type("ext4");
  EXPECT_EQ(PlanCreate(fs_type, config).options.at("fstype"), "ext4");

  auto unknown = Request(64 << 20);
  (*unknown.mutable_parameters())["colour"] = "red";
  ExpectError([&] { PlanCreate(unknown, config); }, kInvalid, {"colour", "known options"});
  auto size = Request(64 << 20);
  (*size.mutable_parameters())["size"] = "1G";
  ExpectError([&] { PlanCreate(size, config); }, kInvalid, {"capacity_range"});
  auto nfs_writer = Request(64 << 20);
  (*nfs_writer.mutable_parameters())["backend"] = "nfs";
  nfs_writer.mutable_volume_capabilities(0)->mutable_access_mode()->set_mode(
      Mode::MULTI_NODE_MULTI_WRITER);
  EXPECT_EQ(PlanCreate(nfs_writer, config).backend_type, "nfs");
  auto bad_name = Request(64 << 20);
  bad_name.set_name("../x");
  ExpectError([&] { PlanCreate(bad_name, config); }, kInvalid, {"../x"});
}

TEST(CsiNodePaths, OnlyNormalPathsStrictlyBelowTheRoot) {
  const std::string root = "/var/lib/kubelet";
  EXPECT_NO_THROW(CheckNodePath("/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/pv/mount", root,
                                "target_path"));
  for (const char* bad :
       {"", "relative", "/var/lib/kubelet", "/var/lib/kubelet/", "/var/lib/kubeletX/a",
        "/var/lib/kubelet/../etc", "/var/lib/kubelet/a/./b", "/var/lib/kubelet//a", "/etc/a"}) {
    ExpectError([&] { CheckNodePath(bad, root, "target_path"); }, kInvalid, {"target_path", root});
  }
}

TEST(CsiSnapshotId, VolumeAtSnapshot) {
  const SnapshotId id = ParseSnapshotId("db@snapshot-1");
  EXPECT_EQ(id.volume, "db");
  EXPECT_EQ(id.snapshot, "snapshot-1");
  EXPECT_EQ(id.ToString(), "db@snapshot-1");
  for (const char* bad : {"", "db", "@s", "db@", "../x@s"}) {
    ExpectError([&] { ParseSnapshotId(bad); }, kInvalid, {});
  }
}

TEST(CsiSecrets, CephCsiKeyNamesForEveryRbdBackendAndNeverTheValueInAnError) {
  const auto config = TwoBackends();
  google::protobuf::Map<std::string, std::string> secrets;
  EXPECT_TRUE(CredentialsOf(secrets, config).empty());
  secrets["userID"] = "tenant";
  ExpectError([&] { CredentialsOf(secrets, config); }, kInvalid, {"no userKey"});
  secrets["userKey"] = "s3cr3t";
  try {
    CredentialsOf(secrets, config);
    ADD_FAILURE() << "a key that is not a cephx key was taken";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("s3cr3t"), std::string::npos) << e.what();
  }
  secrets["userKey"] = "AQAAAF9nAAAAABAAYmVydGh0ZXN0c2VjcmV0IQ==";
  const auto overrides = CredentialsOf(secrets, config);
  ASSERT_EQ(overrides.size(), 1U);
  EXPECT_EQ(overrides.at("rbd").user, "tenant");
}

}  // namespace
}  // namespace berth::csi
