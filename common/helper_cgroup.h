// Where berth's long-lived helpers (rbd-fuse, berth-nfs-fuse) run: outside the cgroup of the
// process that started them. berth-flex runs inside kubelet.service's cgroup, and systemd stops
// a unit by killing its whole cgroup (KillMode=control-group, the default): a kubelet restart
// would kill every mapper a pod's I/O goes through. A double fork and setsid leave the process
// tree but not the cgroup.
#pragma once

#include <string>
#include <vector>

namespace berth {

// A cgroup hierarchy that a service manager tracks processes by: cgroup v2, or v1's
// name=systemd hierarchy (systemd's "legacy" and "hybrid" modes).
struct TrackingHierarchy {
  std::string mount;  // where it is mounted, e.g. /sys/fs/cgroup/unified
  bool v2 = false;
};

// The tracking hierarchies in /proc/self/mountinfo's text: the mounts on top at their mount
// points that show a hierarchy's root (as this process's cgroup namespace sees it), where
// berth's cgroup can be made.
std::vector<TrackingHierarchy> TrackingHierarchies(const std::string& mountinfo);

// This process's cgroup path in `hierarchy`, from /proc/self/cgroup's text ("" if absent).
std::string CgroupPath(const std::string& proc_cgroup, const TrackingHierarchy& hierarchy);

// berth's own cgroup for helpers, a child of each hierarchy's root.
inline constexpr const char* kHelperCgroup = "berth.helpers";

// Joins the cgroup namespace at `ns_path` (/proc/1/ns/cgroup: PID 1's). Inside a container that
// shares the host's PIDs but has a cgroup namespace of its own (the default on cgroup v2), berth
// sits at its namespace's root and cannot move a helper out of the container's cgroup, so a
// restart of the container ends the helpers; in the host's namespace it can, through the host's
// cgroup filesystem. Needs CAP_SYS_ADMIN. Call before any thread starts. Returns what it did,
// for the log; throws when it cannot join.
std::string JoinCgroupNamespace(const std::string& ns_path);

// The cgroup.procs files a new helper moves itself into before it execs: berth's cgroup in each
// tracking hierarchy where this process sits below the root (created here if missing). Empty
// where nothing needs to move (a process at the root, no cgroup fs). Best effort: a cgroup that
// cannot be made (a container's read-only cgroup fs) is left out, with a warning.
std::vector<std::string> HelperCgroupProcsFiles();

}  // namespace berth
