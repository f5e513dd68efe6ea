// berth-csi's Identity service over real gRPC on a unix socket, with the lab's Ceph and NFS
// behind it: who it is, what it announces, and Probe's readiness, which a backend that cannot be
// reached does not take away.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "csi.grpc.pb.h"
#include "tests/integration/csi/csi_process.h"
#include "tests/integration/engine/lab.h"
#include "tests/support/berthd_process.h"

namespace berth::testing {
namespace {

class CsiIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = LabDir() + "/" + UniqueName("csi");
    std::filesystem::create_directories(base_);
    config_ = WriteBerthdConfig(base_, UniqueName("csi-host"));
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(base_, ec);
  }
  std::string base_;
  std::string config_;
};

TEST_F(CsiIdentityTest, NamesItselfWithBerthsVersionAndTheSpecItFollows) {
  CsiProcess csi(config_, base_ + "/csi.sock", base_ + "/csi.log");
  auto identity = csi.Identity();
  grpc::ClientContext context;
  csi::v1::GetPluginInfoResponse info;
  ASSERT_TRUE(identity->GetPluginInfo(&context, {}, &info).ok());
  EXPECT_EQ(info.name(), "csi.berth.dev");
  EXPECT_FALSE(info.vendor_version().empty());
  EXPECT_EQ(info.manifest().at("csi-spec"), "1.12.0");
  EXPECT_EQ(csi.Stop(), 0);  // SIGTERM ends it cleanly
  EXPECT_FALSE(std::filesystem::exists(csi.socket()));
}

TEST_F(CsiIdentityTest, AnnouncesTheControllerAndOnlineExpansionOnlyWhereItServesThem) {
  {
    CsiProcess csi(config_, base_ + "/csi.sock", base_ + "/csi.log", {"--mode", "controller"});
    grpc::ClientContext context;
    csi::v1::GetPluginCapabilitiesResponse capabilities;
    ASSERT_TRUE(csi.Identity()->GetPluginCapabilities(&context, {}, &capabilities).ok());
    ASSERT_EQ(capabilities.capabilities_size(), 2);
    EXPECT_EQ(capabilities.capabilities(0).service().type(),
              csi::v1::PluginCapability::Service::CONTROLLER_SERVICE);
    EXPECT_EQ(capabilities.capabilities(1).volume_expansion().type(),
              csi::v1::PluginCapability::VolumeExpansion::ONLINE);
    // A controller-only process does not serve the Node service.
    grpc::ClientContext node_context;
    csi::v1::NodeGetInfoResponse info;
    EXPECT_EQ(csi.Node()->NodeGetInfo(&node_context, {}, &info).error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  CsiProcess csi(config_, base_ + "/csi.sock", base_ + "/csi.log", {"--mode", "node"});
  grpc::ClientContext context;
  csi::v1::GetPluginCapabilitiesResponse capabilities;
  ASSERT_TRUE(csi.Identity()->GetPluginCapabilities(&context, {}, &capabilities).ok());
  EXPECT_EQ(capabilities.capabilities_size(), 0);
  grpc::ClientContext controller_context;
  csi::v1::ControllerGetCapabilitiesResponse controller;
  EXPECT_EQ(csi.Controller()
                ->ControllerGetCapabilities(&controller_context, {}, &controller)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(CsiIdentityTest, ProbeIsReadyWhenEveryBackendAnswers) {
  CsiProcess csi(config_, base_ + "/csi.sock", base_ + "/csi.log");
  grpc::ClientContext context;
  csi::v1::ProbeResponse probe;
  ASSERT_TRUE(csi.Identity()->Probe(&context, {}, &probe).ok());
  EXPECT_TRUE(probe.has_ready());
  EXPECT_TRUE(probe.ready().value());
}

// Ready, and the backend named in the log: Swarm takes a plugin whose first Probe fails for one
// without a Controller (identity_service.cc).
TEST_F(CsiIdentityTest, ProbeStaysReadyAndLogsABackendThatCannotBeReached) {
  auto config = nlohmann::json::parse(*ReadFileIfExists(config_));
  config["backends"]["nfs"]["server"] = "127.0.0.1";
  config["backends"]["nfs"]["nfs_port"] = 9;  // discard: nothing serves NFS there
  config["backends"]["nfs"]["mount_port"] = 9;
  config["backends"]["nfs"]["timeout_ms"] = 2000;
  WriteFileAtomically(config_, config.dump(), 0600);
  const std::string log = base_ + "/csi.log";
  CsiProcess csi(config_, base_ + "/csi.sock", log);
  grpc::ClientContext context;
  csi::v1::ProbeResponse probe;
  ASSERT_TRUE(csi.Identity()->Probe(&context, {}, &probe).ok());
  EXPECT_TRUE(probe.ready().value());
  const std::string text = ReadFileIfExists(log).value_or("");
  const auto warning = text.find("probe: ready, but backend nfs");
  ASSERT_NE(warning, std::string::npos) << text;
  EXPECT_EQ(text.find("backend rbd", warning), std::string::npos) << text;
}

TEST_F(CsiIdentityTest, ANonUnixEndpointIsRefusedWithExitCode2) {
  const std::string log = base_ + "/refused.log";
  const std::string command = std::string(BERTH_CSI_PATH) +
                              " --endpoint tcp://127.0.0.1:10000 --config " + config_ + " 2>" + log;
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(ReadFileIfExists(log).value_or("").find("is not a unix socket"), std::string::npos);
}

}  // namespace
}  // namespace berth::testing
