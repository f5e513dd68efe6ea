// Runs berth-flex exactly as kubelet and kube-controller-manager do: installed as
// <plugin dir>/berth~rbd/rbd (or berth~rbd-node/rbd-node, berth~nfs/nfs), one process per call, the
// options as one JSON argument, and the combined output parsed as exactly one JSON object.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "engine/config.h"

namespace berth::testing {

struct FlexReply {
  nlohmann::json json;  // the one object the driver printed
  int exit_code = -1;
  std::string status() const { return json.value("status", ""); }
  std::string message() const { return json.value("message", ""); }
};

// One simulated node: its own host id, berth config (state dir, mount root) and plugin dir.
class Node {
 public:
  explicit Node(const std::string& host_id);

  // Runs `<plugin dir>/berth~<driver>/<driver> args...` and checks the output contract: the
  // combined stdout and stderr is one JSON object (strict parse, nothing after it) and the
  // exit code is 0 exactly when the status is Success. A breach fails the test.
  FlexReply Call(const std::string& driver, const std::vector<std::string>& args) const;
  FlexReply Rbd(const std::vector<std::string>& args) const { return Call("rbd", args); }
  FlexReply RbdNode(const std::vector<std::string>& args) const { return Call("rbd-node", args); }
  FlexReply Nfs(const std::vector<std::string>& args) const { return Call("nfs", args); }

  // Later calls authenticate to Ceph as `user` with `keyring` (the node's own user), not the
  // lab's. config() keeps the lab's user, for the test's own checks and cleanup.
  void UseCephUser(const std::string& user, const std::string& keyring);

  // The node's berthd listens on `socket` (the config's "socket", which berth-flex reads to find
  // it); the test starts that berthd itself.
  void UseBerthdSocket(const std::string& socket);

  // Runs every later call from inside these cgroups (their cgroup.procs files), as kubelet's
  // calls run inside kubelet.service's cgroup.
  void RunInCgroups(std::vector<std::string> procs_files) { cgroups_ = std::move(procs_files); }

  // kubelet's paths for a volume on this node.
  std::string DeviceMountPath(const std::string& pv) const;
  std::string PodDir(const std::string& pod, const std::string& volume,
                     const std::string& driver = "rbd") const;

  const std::string& host_id() const { return host_id_; }
  const engine::Config& config() const { return config_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& log_path() const { return log_path_; }
  std::string base() const { return base_; }

 private:
  std::string host_id_;
  std::string base_;
  engine::Config config_;
  std::string config_path_;
  std::string plugin_dir_;
  std::string log_path_;
  std::vector<std::string> cgroups_;
};

// A service's cgroup, as systemd keeps one per unit: a cgroup of its own in each hierarchy that
// tracks processes (common/helper_cgroup.h), removed when it goes.
class ServiceCgroup {
 public:
  explicit ServiceCgroup(const std::string& name);
  ~ServiceCgroup();
  ServiceCgroup(const ServiceCgroup&) = delete;
  ServiceCgroup& operator=(const ServiceCgroup&) = delete;

  const std::vector<std::string>& procs_files() const { return procs_files_; }
  // What systemd does to stop a unit with KillMode=control-group: SIGKILL to every process in
  // the cgroup until none is left. Returns how many it killed.
  int KillAll();

 private:
  std::vector<std::string> dirs_;
  std::vector<std::string> procs_files_;
};

// The options JSON kubelet builds: its kubernetes.io/* keys plus the user's options.
std::string Options(const std::map<std::string, std::string>& options);

// Free space and size of the filesystem at `path`, as df reports them (statvfs).
uint64_t FilesystemBytes(const std::string& path);

}  // namespace berth::testing
