// berth-csi as the node DaemonSet runs it: in a container whose cgroup namespace is its own,
// rooted at the container's cgroup, on the host's PIDs. There a mapper cannot leave the
// container's cgroup, and a container restart (which kills the whole cgroup) would end the I/O
// of every volume staged on the node. --join-cgroup-namespace=/proc/1/ns/cgroup (the host's,
// with hostPID) lets berth move its mappers to the host's berth.helpers cgroup, as it does on a
// host. Played here with a cgroup of the test's own, `unshare --cgroup`, and the test process's
// namespace as the host's (this sandbox keeps /proc/1/ns from root), against the lab's Ceph.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "common/helper_cgroup.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "tests/integration/csi/csi_node.h"
#include "tests/integration/engine/lab.h"
#include "tests/integration/flex/kubelet.h"

namespace berth::testing {
namespace {

const auto kHostCgroupWriter = MountCapability(AccessMode::SINGLE_NODE_WRITER, "ext4");

// sh, as a container runtime would: into the pod's cgroup, then a cgroup namespace rooted there.
std::vector<std::string> InPodCgroup(const ServiceCgroup& pod) {
  std::string script;
  for (const auto& file : pod.procs_files()) {
    script += "echo $$ >" + file + " && ";
  }
  return {"/bin/sh", "-c", script + "exec unshare --cgroup \"$@\"", "sh"};
}

// The pid of the rbd-fuse serving `volume` for the node (its pid file in the node's state).
pid_t MapperOf(const CsiNode& node, const std::string& volume) {
  const std::string dir = node.base() + "/state/attach/" + volume;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().filename() == "rbd-fuse.pid") {
      return static_cast<pid_t>(std::stol(ReadFileIfExists(entry.path()).value_or("0")));
    }
  }
  return 0;
}

// The paths of `pid`'s cgroups in the hierarchies a service manager tracks processes by.
std::vector<std::string> TrackedCgroups(pid_t pid) {
  const std::string proc_cgroup =
      ReadFileIfExists("/proc/" + std::to_string(pid) + "/cgroup").value_or("");
  std::vector<std::string> paths;
  for (const auto& hierarchy :
       TrackingHierarchies(ReadFileIfExists("/proc/self/mountinfo").value_or(""))) {
    paths.push_back(CgroupPath(proc_cgroup, hierarchy));
  }
  return paths;
}

TEST(CsiHostCgroup, MappersLeaveThePodCgroupOnlyThroughTheHostCgroupNamespace) {
  ServiceCgroup pod(UniqueName("berth-test-pod"));
  ASSERT_FALSE(pod.procs_files().empty()) << "no cgroup hierarchy to make a pod cgroup in";
  const std::string pod_cgroup =
      "/" + std::filesystem::path(pod.procs_files()[0]).parent_path().filename().string();

  // Without the flag the mapper stays in the pod's cgroup, and would die with the container.
  {
    CsiNode node("pod-own-ns", {}, InPodCgroup(pod));
    const std::string volume = UniqueName("cgns");
    ASSERT_TRUE(node.CreateVolume(volume, 32 * kCsiMiB, kHostCgroupWriter).ok());
    ASSERT_TRUE(node.Stage(volume, kHostCgroupWriter).ok());
    const pid_t mapper = MapperOf(node, volume);
    ASSERT_GT(mapper, 0);
    for (const auto& path : TrackedCgroups(mapper)) {
      EXPECT_EQ(path, pod_cgroup);
    }
    ASSERT_TRUE(node.Unstage(volume).ok());
    EXPECT_TRUE(node.DeleteVolume(volume).ok());
  }

  // With it, the mapper is in berth.helpers: killing everything in the pod's cgroup (what a
  // container restart does) leaves the volume's I/O running, and the next berth-csi adopts it.
  CsiNode node("pod-host-ns",
               {"--join-cgroup-namespace=/proc/" + std::to_string(::getpid()) + "/ns/cgroup"},
               InPodCgroup(pod));
  const std::string volume = UniqueName("cgns");
  ASSERT_TRUE(node.CreateVolume(volume, 32 * kCsiMiB, kHostCgroupWriter).ok());
  ASSERT_TRUE(node.Stage(volume, kHostCgroupWriter).ok());
  ASSERT_TRUE(node.Publish(volume, "pod", kHostCgroupWriter).ok());
  const std::string file = node.PublishPath("pod", volume) + "/data";
  WriteFileAtomically(file, "written before the restart", 0644);
  const pid_t mapper = MapperOf(node, volume);
  ASSERT_GT(mapper, 0);
  for (const auto& path : TrackedCgroups(mapper)) {
    EXPECT_EQ(path, std::string("/") + kHelperCgroup);
  }
  EXPECT_GE(pod.KillAll(), 1);  // berth-csi itself
  EXPECT_TRUE(node.process().Exits(std::chrono::seconds(10)));
  EXPECT_TRUE(ProcessRuns(mapper, "rbd-fuse"));
  EXPECT_EQ(ReadFileIfExists(file).value_or(""), "written before the restart");
  WriteFileAtomically(file, "written while berth-csi was down", 0644);

  node.Restart();
  EXPECT_EQ(MapperOf(node, volume), mapper);
  auto stats = node.Stats(volume, node.PublishPath("pod", volume));
  ASSERT_TRUE(stats.ok()) << stats.status.error_message();
  EXPECT_FALSE(stats.reply.volume_condition().abnormal())
      << stats.reply.volume_condition().message();
  ASSERT_TRUE(node.Unpublish(volume, "pod").ok());
  ASSERT_TRUE(node.Unstage(volume).ok());
  EXPECT_FALSE(ProcessRuns(mapper, "rbd-fuse"));
  EXPECT_TRUE(node.DeleteVolume(volume).ok());
}

}  // namespace
}  // namespace berth::testing
