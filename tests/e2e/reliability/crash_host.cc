#include "tests/e2e/reliability/crash_host.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "common/fd.h"
#include "common/files.h"
#include "common/strings.h"
#include "tests/integration/engine/lab.h"
#include "tests/support/plugin_client.h"

namespace berth::e2e {

namespace {

int CountLines(const std::string& text, const std::string& a, const std::string& b) {
  int count = 0;
  for (const auto& line : Split(text, '\n')) {
    count += line.find(a) != std::string::npos && line.find(b) != std::string::npos;
  }
  return count;
}

// Whether something still accepts connections on `path`. A killed berthd whose main thread is
// already a zombie may still hold its listening socket while another thread finishes dying.
bool SocketAccepts(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  return fd.valid() &&
         ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
}

void WaitUntilClosed(const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (SocketAccepts(path) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(SocketAccepts(path)) << "the killed berthd still holds " << path;
}

}  // namespace

CrashHost::CrashHost(std::string host_id)
    : host_id_(std::move(host_id)), base_(testing::LabDir() + "/hosts/" + host_id_) {
  config_ = testing::WriteBerthdConfig(base_, host_id_);
  state_dir_ = base_ + "/state";
}

void CrashHost::Start(const std::string& fault) {
  fault_ = fault;
  // The child inherits the environment; tests start hosts from one thread at a time.
  if (!fault.empty()) {
    ::setenv("BERTH_FAULT", fault.c_str(), 1);
  }
  try {
    berthd_ = std::make_unique<testing::BerthdProcess>(
        BERTH_BERTHD_PATH, config_, base_ + "/berthd.sock", base_ + "/berthd.log");
  } catch (...) {
    ::unsetenv("BERTH_FAULT");
    throw;
  }
  ::unsetenv("BERTH_FAULT");
}

void CrashHost::Kill() {
  if (berthd_) {
    ::kill(berthd_->pid(), SIGKILL);
    EXPECT_TRUE(berthd_->WaitForExit(std::chrono::seconds(10)));
    berthd_.reset();
    WaitUntilClosed(base_ + "/berthd.sock");
  }
}

void CrashHost::Stop() {
  if (berthd_) {
    EXPECT_TRUE(berthd_->Stop()) << "berthd ignored SIGTERM";
    berthd_.reset();
  }
}

bool CrashHost::DiedAtFault() {
  if (!berthd_ || !berthd_->WaitForExit(std::chrono::seconds(20))) {
    return false;
  }
  const bool at_fault =
      berthd_->LogText().find("fault injection: killed at " + fault_ + "\n") != std::string::npos;
  berthd_.reset();
  WaitUntilClosed(base_ + "/berthd.sock");
  return at_fault;
}

nlohmann::json CrashHost::Call(const std::string& endpoint, const nlohmann::json& body) {
  try {
    auto reply =
        testing::PluginClient(base_ + "/berthd.sock").Call("VolumeDriver." + endpoint, body.dump());
    EXPECT_EQ(reply.status, 200) << endpoint << ": " << reply.body;
    return reply.json;
  } catch (const std::runtime_error&) {
    return {{"transport", false}};  // berthd died before it answered
  }
}

nlohmann::json CrashHost::CallOk(const std::string& endpoint, const nlohmann::json& body) {
  auto reply = Call(endpoint, body);
  EXPECT_FALSE(reply.contains("transport")) << endpoint << " " << body.dump() << ": no answer";
  EXPECT_EQ(reply.value("Err", ""), "") << endpoint << " " << body.dump();
  return reply;
}

int CrashHost::FormatCount(const std::string& volume) const {
  return CountLines(ReadFileIfExists(base_ + "/berthd.log").value_or(""), "volume " + volume + ": ",
                    "never formatted; creating");
}

bool CrashHost::HasState(const std::string& volume) const {
  return PathExists(state_dir_ + "/volumes/" + volume + ".json");
}

}  // namespace berth::e2e
