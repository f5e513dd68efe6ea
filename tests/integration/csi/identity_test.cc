// berth-csi's Identity service over real gRPC on a unix socket, with the lab's Ceph and NFS
// behind it: who it is, what it announces, and Probe's readiness, including a backend that
// cannot be reached.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/files.h"
#include "csi.grpc.pb.h"
#include "tests/integration/engine/lab.h"
#include "tests/support/berthd_process.h"

extern char** environ;

namespace berth::testing {
namespace {

// berth-csi of this build on a socket of the test's own, stopped (SIGTERM) when it goes.
class CsiProcess {
 public:
  CsiProcess(const std::string& config, const std::string& socket, const std::string& log)
      : socket_(socket) {
    std::vector<std::string> args = {BERTH_CSI_PATH, "--endpoint", "unix://" + socket, "--config",
                                     config};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    EXPECT_EQ(posix_spawn(&pid_, BERTH_CSI_PATH, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    channel_ = grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials());
    EXPECT_TRUE(
        channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20)))
        << ReadFileIfExists(log).value_or("");
  }
  ~CsiProcess() { Stop(); }
  CsiProcess(const CsiProcess&) = delete;
  CsiProcess& operator=(const CsiProcess&) = delete;

  // SIGTERM; the exit status, which is 0 for a clean stop.
  int Stop() {
    if (pid_ <= 0) {
      return status_;
    }
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }
  std::unique_ptr<csi::v1::Identity::Stub> Identity() {
    return csi::v1::Identity::NewStub(channel_);
  }
  const std::string& socket() const { return socket_; }

 private:
  std::string socket_;
  pid_t pid_ = -1;
  int status_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

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

TEST_F(CsiIdentityTest, AnnouncesNoServiceItDoesNotServe) {
  CsiProcess csi(config_, base_ + "/csi.sock", base_ + "/csi.log");
  grpc::ClientContext context;
  csi::v1::GetPluginCapabilitiesResponse capabilities;
  ASSERT_TRUE(csi.Identity()->GetPluginCapabilities(&context, {}, &capabilities).ok());
  EXPECT_EQ(capabilities.capabilities_size(), 0);
}

TEST_F(CsiIdentityTest, ProbeIsReadyWhenEveryBackendAnswers) {
  CsiProcess csi(config_, base_ + "/csi.sock", base_ + "/csi.log");
  grpc::ClientContext context;
  csi::v1::ProbeResponse probe;
  ASSERT_TRUE(csi.Identity()->Probe(&context, {}, &probe).ok());
  EXPECT_TRUE(probe.has_ready());
  EXPECT_TRUE(probe.ready().value());
}

TEST_F(CsiIdentityTest, ProbeNamesABackendThatCannotBeReached) {
  auto config = nlohmann::json::parse(*ReadFileIfExists(config_));
  config["backends"]["nfs"]["server"] = "127.0.0.1";
  config["backends"]["nfs"]["nfs_port"] = 9;  // discard: nothing serves NFS there
  config["backends"]["nfs"]["mount_port"] = 9;
  config["backends"]["nfs"]["timeout_ms"] = 2000;
  WriteFileAtomically(config_, config.dump(), 0600);
  CsiProcess csi(config_, base_ + "/csi.sock", base_ + "/csi.log");
  grpc::ClientContext context;
  csi::v1::ProbeResponse probe;
  const grpc::Status status = csi.Identity()->Probe(&context, {}, &probe);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("backend nfs"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(status.error_message().find("backend rbd"), std::string::npos)
      << status.error_message();
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
