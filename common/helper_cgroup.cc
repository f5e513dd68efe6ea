#include "common/helper_cgroup.h"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/error.h"
#include "common/fd.h"
#include "common/files.h"
#include "common/strings.h"

namespace berth {

std::vector<TrackingHierarchy> TrackingHierarchies(const std::string& mountinfo) {
  std::vector<std::pair<TrackingHierarchy, std::string>> on_top;  // and the mount's root
  for (const auto& line : Split(mountinfo, '\n')) {
    const auto separator = line.find(" - ");
    if (separator == std::string::npos) {
      continue;
    }
    std::istringstream before(line.substr(0, separator));
    std::istringstream after(line.substr(separator + 3));
    std::string id, parent, device, root, mount, fstype, source, options;
    if (!(before >> id >> parent >> device >> root >> mount) || !(after >> fstype >> source)) {
      continue;
    }
    after >> options;
    // The last mount at a mount point is the one on top; a mount of a subtree (a container's own
    // cgroup, or one outside this cgroup namespace, shown as "/..") cannot reach the root,
    // where berth's cgroup lives, and a tracking mount covered by it is out of reach too.
    std::erase_if(on_top, [&](const auto& m) { return m.first.mount == mount; });
    if (fstype == "cgroup2") {
      on_top.push_back({{mount, true}, root});
    } else if (fstype == "cgroup" &&
               ("," + options + ",").find(",name=systemd,") != std::string::npos) {
      on_top.push_back({{mount, false}, root});
    }
  }
  std::vector<TrackingHierarchy> out;
  for (const auto& [hierarchy, root] : on_top) {
    if (root == "/") {
      out.push_back(hierarchy);
    }
  }
  return out;
}

std::string CgroupPath(const std::string& proc_cgroup, const TrackingHierarchy& hierarchy) {
  for (const auto& line : Split(proc_cgroup, '\n')) {
    // "0::/path" (v2) or "N:name=systemd:/path" (v1).
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) {
      continue;
    }
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const bool match = hierarchy.v2 ? (line.substr(0, first) == "0" && controllers.empty())
                                    : controllers == "name=systemd";
    if (match) {
      return line.substr(second + 1);
    }
  }
  return "";
}

std::string JoinCgroupNamespace(const std::string& ns_path) {
  struct stat ours {};
  struct stat target {};
  if (::stat("/proc/self/ns/cgroup", &ours) != 0 || ::stat(ns_path.c_str(), &target) != 0) {
    throw ErrnoError(-errno, "cannot read the cgroup namespaces of this process and " + ns_path);
  }
  if (ours.st_ino == target.st_ino && ours.st_dev == target.st_dev) {
    return "already in the cgroup namespace " + ns_path;
  }
  const UniqueFd ns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (ns.get() < 0) {
    throw ErrnoError(-errno, "cannot open " + ns_path);
  }
  if (::setns(ns.get(), CLONE_NEWCGROUP) != 0) {
    throw ErrnoError(-errno,
                     "cannot join the cgroup namespace " + ns_path + " (needs CAP_SYS_ADMIN)");
  }
  return "joined the cgroup namespace " + ns_path + "; helpers go to its " +
         std::string(kHelperCgroup) + " cgroup";
}

std::vector<std::string> HelperCgroupProcsFiles() {
  const std::string proc_cgroup = ReadFileIfExists("/proc/self/cgroup").value_or("");
  std::vector<std::string> files;
  for (const auto& hierarchy :
       TrackingHierarchies(ReadFileIfExists("/proc/self/mountinfo").value_or(""))) {
    const std::string path = CgroupPath(proc_cgroup, hierarchy);
    if (path.empty() || path == "/" || path == std::string("/") + kHelperCgroup) {
      continue;  // at the root already (nothing to leave), or in berth's own cgroup
    }
    const std::string dir = hierarchy.mount + "/" + kHelperCgroup;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      static std::atomic<bool> warned{false};  // once per process: every mapper start would
      if (!warned.exchange(true)) {
        spdlog::warn(
            "cannot make cgroup {}: {}; helpers stay in {}, so a restart of the service that "
            "started them stops them (docs/kubernetes.md: kubelet's KillMode)",
            dir, std::strerror(errno), path);
      }
      continue;
    }
    files.push_back(dir + "/cgroup.procs");
  }
  return files;
}

}  // namespace berth
