// Which cgroup hierarchies track processes for a service manager, and where this process sits in
// them: the parsing behind moving berth's helpers out of the cgroup that started them.
#include "common/helper_cgroup.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

// A hybrid host (systemd's v1 name=systemd hierarchy beside the v2 one) and a pure v2 host.
constexpr const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
    "50 23 8:1 / /srv rw - ext4 /dev/sda1 rw\n";
constexpr const char* kV2Mountinfo =
    "29 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

TEST(TrackingHierarchies, FindsV2AndSystemdsV1NotTheControllers) {
  const auto hybrid = TrackingHierarchies(kHybridMountinfo);
  ASSERT_EQ(hybrid.size(), 2u);
  EXPECT_EQ(hybrid[0].mount, "/sys/fs/cgroup/systemd");
  EXPECT_FALSE(hybrid[0].v2);
  EXPECT_EQ(hybrid[1].mount, "/sys/fs/cgroup/unified");
  EXPECT_TRUE(hybrid[1].v2);

  const auto v2 = TrackingHierarchies(kV2Mountinfo);
  ASSERT_EQ(v2.size(), 1u);
  EXPECT_EQ(v2[0].mount, "/sys/fs/cgroup");
  EXPECT_TRUE(v2[0].v2);

  EXPECT_TRUE(TrackingHierarchies("").empty());
  EXPECT_TRUE(TrackingHierarchies("garbage without a separator\n - \n").empty());
}

// A container with the host's /sys bind-mounted over its own cgroup mount: the runtime's mount
// of the container's cgroup (a subtree, or outside the namespace: "/..") cannot reach berth's
// cgroup at the root; the host's mount of the root can, once, whatever is listed under it.
TEST(TrackingHierarchies, SkipsMountsOfASubtreeAndListsAMountPointOnce) {
  const auto found = TrackingHierarchies(
      "600 500 0:30 /kubepods/pod1/c1 /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n"
      "601 500 0:30 /.. /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n"
      "700 650 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
      "701 650 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].mount, "/sys/fs/cgroup");
  EXPECT_TRUE(found[0].v2);
}

TEST(CgroupPath, ReadsThePathInEachHierarchy) {
  const std::string proc_cgroup =
      "12:memory:/system.slice/kubelet.service\n"
      "1:name=systemd:/system.slice/kubelet.service\n"
      "0::/system.slice/kubelet.service\n";
  EXPECT_EQ(CgroupPath(proc_cgroup, {"/sys/fs/cgroup/unified", true}),
            "/system.slice/kubelet.service");
  EXPECT_EQ(CgroupPath(proc_cgroup, {"/sys/fs/cgroup/systemd", false}),
            "/system.slice/kubelet.service");
  // A controller line is not systemd's, and a host without v1 has no name=systemd line.
  EXPECT_EQ(CgroupPath("12:memory:/a\n0::/b\n", {"/sys/fs/cgroup/systemd", false}), "");
  EXPECT_EQ(CgroupPath("12:memory:/a\n", {"/sys/fs/cgroup", true}), "");
}

}  // namespace
}  // namespace berth
