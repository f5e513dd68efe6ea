#include "tests/integration/flex/kubelet.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "common/helper_cgroup.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {

Node::Node(const std::string& host_id) : config_(LabConfig(host_id)) {
  host_id_ = config_.host_id;
  base_ = std::filesystem::path(config_.state_dir).parent_path().string();
  auto doc = nlohmann::json::parse(*ReadFileIfExists(LabDir() + "/berth.json"));
  doc["host_id"] = host_id_;
  doc["state_dir"] = config_.state_dir;
  doc["mount_root"] = config_.mount_root;
  config_path_ = base_ + "/berth.json";
  WriteFileAtomically(config_path_, doc.dump(2));
  plugin_dir_ = base_ + "/volume-plugins";
  log_path_ = base_ + "/flex.log";
  for (const std::string driver : {"rbd", "rbd-node", "nfs"}) {
    const std::string dir = plugin_dir_ + "/berth~" + driver;
    MakeDirectories(dir, 0755);
    // Symlinks, not copies: the sanitizer builds are large and every test makes two nodes.
    // argv[0] still names the driver, as kubelet's exec of the installed file does.
    std::filesystem::create_symlink(BERTH_FLEX_PATH, dir + "/" + driver);
    std::filesystem::create_symlink(BERTH_NFS_FUSE_PATH, dir + "/berth-nfs-fuse");
  }
}

void Node::UseCephUser(const std::string& user, const std::string& keyring) {
  auto doc = nlohmann::json::parse(*ReadFileIfExists(config_path_));
  doc["backends"]["rbd"]["user"] = user;
  doc["backends"]["rbd"]["keyring"] = keyring;
  WriteFileAtomically(config_path_, doc.dump(2));
}

void Node::UseBerthdSocket(const std::string& socket) {
  auto doc = nlohmann::json::parse(*ReadFileIfExists(config_path_));
  doc["socket"] = socket;
  WriteFileAtomically(config_path_, doc.dump(2));
  config_.socket = socket;
}

FlexReply Node::Call(const std::string& driver, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"env", "BERTH_CONFIG=" + config_path_,
                                   "BERTH_FLEX_LOG=" + log_path_,
                                   plugin_dir_ + "/berth~" + driver + "/" + driver};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!cgroups_.empty()) {
    // The shell moves itself into the cgroups, then execs the call in place.
    std::string script;
    for (const auto& file : cgroups_) {
      script += "echo $$ > " + file + " || exit 97; ";
    }
    argv.insert(argv.begin(), {"sh", "-c", script + "exec \"$0\" \"$@\""});
  }
  const CommandResult result = RunCommand(argv, std::chrono::minutes(10));
  const std::string combined = result.out + result.err;
  FlexReply reply;
  reply.exit_code = result.exit_code;
  try {
    reply.json = nlohmann::json::parse(combined);  // throws on anything after the object
  } catch (const nlohmann::json::exception& e) {
    ADD_FAILURE() << "output of `" << JoinCommand(args) << "` is not one JSON object (" << e.what()
                  << "): " << combined;
    return reply;
  }
  EXPECT_TRUE(reply.json.is_object()) << combined;
  EXPECT_TRUE(result.err.empty()) << "stderr: " << result.err;
  const std::string status = reply.status();
  EXPECT_TRUE(status == "Success" || status == "Failure" || status == "Not supported") << combined;
  EXPECT_EQ(result.exit_code == 0, status == "Success")
      << "exit code " << result.exit_code << " for " << combined;
  if (status != "Success") {
    EXPECT_FALSE(reply.message().empty()) << "a " << status << " without a message: " << combined;
  }
  return reply;
}

std::string Node::DeviceMountPath(const std::string& pv) const {
  return base_ + "/kubelet/plugins/kubernetes.io/flexvolume/berth/rbd/mounts/" + pv;
}

std::string Node::PodDir(const std::string& pod, const std::string& volume,
                         const std::string& driver) const {
  return base_ + "/kubelet/pods/" + pod + "/volumes/berth~" + driver + "/" + volume;
}

std::string Options(const std::map<std::string, std::string>& options) {
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [key, value] : options) {
    doc[key] = value;
  }
  return doc.dump();
}

uint64_t FilesystemBytes(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) {
    throw std::runtime_error("statvfs " + path + " failed");
  }
  return static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
}

ServiceCgroup::ServiceCgroup(const std::string& name) {
  for (const auto& hierarchy :
       TrackingHierarchies(ReadFileIfExists("/proc/self/mountinfo").value_or(""))) {
    const std::string dir = hierarchy.mount + "/" + name;
    if (::mkdir(dir.c_str(), 0755) == 0) {
      dirs_.push_back(dir);
      procs_files_.push_back(dir + "/cgroup.procs");
    }
  }
}

ServiceCgroup::~ServiceCgroup() {
  KillAll();
  for (const auto& dir : dirs_) {
    // A killed process leaves its cgroup once it is reaped: wait for that.
    for (int i = 0; i < 100 && ::rmdir(dir.c_str()) != 0; ++i) {
      ::usleep(50'000);
    }
  }
}

int ServiceCgroup::KillAll() {
  int killed = 0;
  for (int round = 0; round < 100; ++round) {
    bool any = false;
    for (const auto& file : procs_files_) {
      for (const auto& line : Split(ReadFileIfExists(file).value_or(""), '\n')) {
        if (!Trim(line).empty() && ::kill(std::stoi(line), SIGKILL) == 0) {
          any = true;
          ++killed;
        }
      }
    }
    if (!any) {
      break;
    }
    ::usleep(50'000);
  }
  return killed;
}

}  // namespace berth::testing
