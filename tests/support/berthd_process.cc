#include "tests/support/berthd_process.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "common/files.h"
#include "common/subprocess.h"
#include "tests/integration/engine/lab.h"
#include "tests/support/plugin_client.h"

namespace berth::testing {

namespace {

bool WaitForPid(pid_t pid, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ProcessAlive(pid)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

bool Answers(const std::string& socket) {
  try {
    return PluginClient(socket).Call("VolumeDriver.Capabilities", "{}").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string WriteBerthdConfig(const std::string& base, const std::string& host_id) {
  auto config = nlohmann::json::parse(ReadFileIfExists(LabDir() + "/berth.json").value());
  // A state dir is an installation, and a host id belongs to one (issue 14): a new base is a
  // new host, so the id gets the base's name (unique per test) after `host_id`.
  config["host_id"] = host_id + "-" + std::filesystem::path(base).filename().string();
  config["state_dir"] = base + "/state";
  config["mount_root"] = base + "/mnt";
  config["socket"] = base + "/berthd.sock";
  MakeDirectories(base, 0755);
  const std::string path = base + "/berth.json";
  WriteFileAtomically(path, config.dump(2));
  return path;
}

BerthdProcess::BerthdProcess(const std::string& berthd, const std::string& config,
                             std::string socket, std::string log, const std::string& log_level)
    : socket_(std::move(socket)), log_(std::move(log)) {
  log_start_ = ReadFileIfExists(log_).value_or("").size();
  pid_ = SpawnDetached({berthd, "--config", config, "--socket", socket_, "--log-level", log_level},
                       log_);
  pid_file_ = LabDir() + "/run/berthd-test-" + std::to_string(pid_) + ".pid";
  WriteFileAtomically(pid_file_, std::to_string(pid_) + "\n", 0644);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!Answers(socket_)) {
    if (!ProcessAlive(pid_) || std::chrono::steady_clock::now() > deadline) {
      Stop();
      throw std::runtime_error("berthd did not answer on " + socket_ + "; its log: " + LogText());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

BerthdProcess::~BerthdProcess() { Stop(); }

bool BerthdProcess::Stop() {
  if (pid_ <= 0) {
    return true;
  }
  bool graceful = true;
  if (ProcessAlive(pid_)) {
    ::kill(pid_, SIGTERM);
    if (!WaitForPid(pid_, std::chrono::seconds(20))) {
      graceful = false;
      ::kill(pid_, SIGKILL);
      WaitForPid(pid_, std::chrono::seconds(10));
    }
  }
  ::unlink(pid_file_.c_str());
  pid_ = -1;
  return graceful;
}

bool BerthdProcess::WaitForExit(std::chrono::seconds timeout) const {
  return pid_ <= 0 || WaitForPid(pid_, timeout);
}

std::string BerthdProcess::LogText() const {
  std::string text = ReadFileIfExists(log_).value_or("");
  return text.size() >= log_start_ ? text.substr(log_start_) : text;
}

}  // namespace berth::testing
