#include "tests/e2e/docker/docker_lab.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/files.h"
#include "common/strings.h"
#include "fsutil/loop_device.h"
#include "fsutil/mountinfo.h"
#include "tests/support/process_token.h"

namespace berth::e2e {

namespace {

CommandResult RunLab(const std::string& command, const std::string& dir,
                     const std::vector<std::string>& options = {}) {
  std::vector<std::string> argv = {std::string(BERTH_SOURCE_DIR) + "/scripts/lab", command, dir};
  argv.insert(argv.end(), options.begin(), options.end());
  return RunCommand(argv, std::chrono::minutes(3));
}

}  // namespace

OwnLab::OwnLab(const std::vector<std::string>& options) {
  char dir[] = "/tmp/berth-e2e.XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    throw std::runtime_error("mkdtemp /tmp/berth-e2e.XXXXXX failed");
  }
  dir_ = dir;
  ::setenv("BERTH_LAB_BERTHD", BERTH_BERTHD_PATH, 1);  // this build's, perhaps sanitized
  auto up = RunLab("up", dir_, options);
  if (up.exit_code != 0) {
    RunLab("down", dir_);
    throw std::runtime_error("scripts/lab up " + dir_ + " failed: " + up.err);
  }
  // export NAME='VALUE' lines: the lab's paths never hold a quote (scripts/lab refuses them).
  for (const auto& line : Split(ReadFileIfExists(dir_ + "/env").value_or(""), '\n')) {
    const auto eq = line.find("='");
    if (line.starts_with("export ") && eq != std::string::npos && line.ends_with("'")) {
      const std::string name = line.substr(7, eq - 7);
      const std::string value = line.substr(eq + 2, line.size() - eq - 3);
      ::setenv(name.c_str(), value.c_str(), 1);
    }
  }
}

OwnLab::~OwnLab() {
  auto down = RunLab("down", dir_);
  EXPECT_EQ(down.exit_code, 0) << "scripts/lab down " << dir_ << ": " << down.err;
  const bool mounted =
      RunCommand({"findmnt", "-rn", "-o", "TARGET"}).out.find(dir_ + "/") != std::string::npos;
  if (!mounted) {
    RunCommand({"rm", "-rf", "--one-file-system", "--", dir_});
  }
}

void OwnLab::Run(const std::string& command) const {
  auto result = RunLab(command, dir_);
  EXPECT_EQ(result.exit_code, 0) << "scripts/lab " << command << ": " << result.err;
}

namespace {

std::string LabEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(name) + " not set; run through scripts/test");
  }
  return value;
}

}  // namespace

std::string LabDir() { return LabEnv("BERTH_LAB_DIR"); }

std::string Driver() { return LabEnv("BERTH_DRIVER"); }

std::string PluginSocket() { return LabEnv("BERTH_PLUGIN_SOCKET"); }

CommandResult Docker(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"docker"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, std::chrono::minutes(3));
}

std::string DockerOk(const std::vector<std::string>& args) {
  auto result = Docker(args);
  EXPECT_EQ(result.exit_code, 0) << "docker " << JoinCommand(args) << ": " << result.err;
  return Trim(result.out);
}

namespace {

bool SocketAnswers(const std::string& socket) {
  auto reply = PluginRequest(socket, "POST", "/VolumeDriver.Capabilities", "{}");
  return reply.status == 200;
}

void WaitForExit(int pid) {
  for (int i = 0; i < 300 && ProcessAlive(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

int StartBerthd(const std::string& config, const std::string& socket, const std::string& pid_file) {
  const int pid = SpawnDetached(
      {BERTH_BERTHD_PATH, "--config", config, "--socket", socket, "--log-level", "info"},
      LabDir() + "/log/berthd-e2e.log");
  WriteFileAtomically(pid_file, std::to_string(pid) + "\n");
  if (!Eventually([&] { return SocketAnswers(socket); }, 20)) {
    throw std::runtime_error("berthd did not answer on " + socket + "; see " + LabDir() +
                             "/log/berthd-e2e.log");
  }
  return pid;
}

void StopBerthd(int pid) {
  ::kill(pid, SIGTERM);
  WaitForExit(pid);
}

void RestartBerthd(int signal, const std::string& config, const std::string& socket_in,
                   const std::string& pid_file_in) {
  const std::string socket = socket_in.empty() ? PluginSocket() : socket_in;
  const std::string pid_file = pid_file_in.empty() ? LabDir() + "/run/berthd.pid" : pid_file_in;
  if (auto text = ReadFileIfExists(pid_file)) {
    const int pid = std::stoi(Trim(*text));
    if (ProcessAlive(pid)) {
      ::kill(pid, signal);
      WaitForExit(pid);
    }
  }
  StartBerthd(config, socket, pid_file);
}

std::string ConfigForHost(const std::string& host_id) {
  auto config = nlohmann::json::parse(ReadFileIfExists(LabDir() + "/berth.json").value());
  const std::string base = LabDir() + "/hosts/" + host_id;
  config["host_id"] = host_id;
  config["state_dir"] = base + "/state";
  config["mount_root"] = base + "/mnt";
  MakeDirectories(base);
  const std::string path = base + "/berth.json";
  WriteFileAtomically(path, config.dump(2));
  return path;
}

HttpReply PluginRequest(const std::string& socket, const std::string& method,
                        const std::string& path, const std::string& body) {
  static std::atomic<int> counter{0};
  const std::string body_file =
      LabDir() + "/req-" + testing::ProcessToken() + "-" + std::to_string(counter++);
  WriteFileAtomically(body_file, body);
  auto result = RunCommand({"curl", "-sS", "--max-time", "60", "--unix-socket", socket, "-X",
                            method, "--data-binary", "@" + body_file, "-w", "\n%{http_code}",
                            "http://plugin" + path});
  ::unlink(body_file.c_str());
  HttpReply reply;
  auto newline = result.out.rfind('\n');
  if (result.exit_code != 0 || newline == std::string::npos) {
    return reply;  // status 0: no HTTP answer
  }
  reply.body = result.out.substr(0, newline);
  reply.status = std::atoi(result.out.c_str() + newline + 1);
  return reply;
}

std::string UniqueVolume(const std::string& stem) {
  static std::atomic<int> counter{0};
  return stem + "-" + testing::ProcessToken() + "-" + std::to_string(counter++);
}

bool VolumeMounted(const std::string& volume) {
  const std::string lab = LabDir();
  const std::string suffix = "/mnt/" + volume;
  for (const auto& m : fsutil::ReadMountInfo()) {
    if (m.mount_point.rfind(lab, 0) == 0 && m.mount_point.size() >= suffix.size() &&
        m.mount_point.compare(m.mount_point.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return true;
    }
  }
  return false;
}

bool VolumeMapped(const std::string& volume) {
  const std::string lab = LabDir();
  const std::string marker = "/attach/" + volume + "/";
  for (const auto& m : fsutil::ReadMountInfo()) {
    if (m.mount_point.rfind(lab, 0) == 0 &&
        (m.mount_point + "/").find(marker) != std::string::npos) {
      return true;
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block")) {
    const std::string name = entry.path().filename();
    if (name.rfind("loop", 0) == 0) {
      auto backing = fsutil::LoopBackingFile("/dev/" + name);
      if (backing && backing->rfind(lab, 0) == 0 && backing->find(marker) != std::string::npos) {
        return true;
      }
    }
  }
  return false;
}

bool Eventually(const std::function<bool()>& condition, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

}  // namespace berth::e2e
