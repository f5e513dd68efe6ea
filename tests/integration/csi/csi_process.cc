#include "tests/integration/csi/csi_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/files.h"
#include "tests/integration/engine/lab.h"

extern char** environ;

namespace berth::testing {

CsiProcess::CsiProcess(const std::string& config, const std::string& socket, const std::string& log,
                       const std::vector<std::string>& extra,
                       const std::vector<std::string>& environment,
                       const std::vector<std::string>& launcher)
    : socket_(socket) {
  std::vector<std::string> args = launcher;
  args.insert(args.end(), {BERTH_CSI_PATH, "--endpoint", "unix://" + socket, "--config", config});
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = environment;
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    envp.push_back(*e);
  }
  for (auto& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  // The lab's teardown stops what a test that died left running, by its pid file.
  pid_file_ = LabDir() + "/run/berth-csi-test-" + std::to_string(pid_) + ".pid";
  WriteFileAtomically(pid_file_, std::to_string(pid_) + "\n", 0644);
  // A connection of its own: gRPC shares connections between channels to one address, and one
  // to a berth-csi this test killed would fail the first call to the new one.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  channel_ =
      grpc::CreateCustomChannel("unix://" + socket, grpc::InsecureChannelCredentials(), arguments);
  EXPECT_TRUE(
      channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30)))
      << ReadFileIfExists(log).value_or("");
}

int CsiProcess::Stop() {
  if (pid_ <= 0) {
    return status_;
  }
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  ::unlink(pid_file_.c_str());
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return status_;
}

void CsiProcess::Kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Stop();
  }
}

bool CsiProcess::Running() {
  if (pid_ <= 0) {
    return false;
  }
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    ::unlink(pid_file_.c_str());
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

bool CsiProcess::Exits(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::unique_ptr<csi::v1::Identity::Stub> CsiProcess::Identity() const {
  return csi::v1::Identity::NewStub(channel_);
}
std::unique_ptr<csi::v1::Controller::Stub> CsiProcess::Controller() const {
  return csi::v1::Controller::NewStub(channel_);
}
std::unique_ptr<csi::v1::Node::Stub> CsiProcess::Node() const {
  return csi::v1::Node::NewStub(channel_);
}

}  // namespace berth::testing
