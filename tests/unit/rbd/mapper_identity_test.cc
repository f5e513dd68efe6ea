// Device names are recycled: krbd and nbd mappings are recognised by what they map, so a stale
// record never leads berth to mount or unmap another volume's device.
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "backends/rbd/mappers/fuse.h"
#include "backends/rbd/mappers/krbd.h"
#include "backends/rbd/mappers/nbd.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "tests/support/stand_in.h"

namespace berth::rbd {
namespace {

class MapperIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-sysfs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Write(const std::string& path, const std::string& content) {
    MakeDirectories(std::filesystem::path(root_ + path).parent_path().string());
    WriteFileAtomically(root_ + path, content);
  }
  static MappedDevice Mapped(const std::string& mapper, const std::string& device,
                             const std::string& pool, const std::string& image) {
    return {mapper, device, 0, "", pool, image};
  }
  std::string root_;
};

TEST_F(MapperIdentityTest, KrbdChecksPoolAndImageInSysfs) {
  Write("/sys/bus/rbd/devices/3/pool", "berth\n");
  Write("/sys/bus/rbd/devices/3/name", "db\n");
  const KrbdMapper krbd(root_ + "/sys");
  EXPECT_TRUE(krbd.ServesImage(Mapped("krbd", "/dev/rbd3", "berth", "db")));
  EXPECT_FALSE(krbd.ServesImage(Mapped("krbd", "/dev/rbd3", "berth", "other")));
  EXPECT_FALSE(krbd.ServesImage(Mapped("krbd", "/dev/rbd3", "rbd", "db")));
  EXPECT_FALSE(krbd.ServesImage(Mapped("krbd", "/dev/rbd4", "berth", "db")));
  EXPECT_FALSE(krbd.ServesImage(Mapped("krbd", "/dev/sda", "berth", "db")));
  // A record from a berth that did not store the image cannot be checked; trusted as before.
  EXPECT_TRUE(krbd.ServesImage(Mapped("krbd", "/dev/rbd9", "", "")));
}

TEST_F(MapperIdentityTest, NbdChecksTheDaemonBehindTheDevice) {
  Write("/sys/block/nbd0/pid", "4242\n");
  Write("/proc/4242/cmdline", std::string("rbd-nbd\0map\0--exclusive\0berth/db\0", 33));
  const NbdMapper nbd(root_ + "/sys", root_ + "/proc");
  EXPECT_TRUE(nbd.ServesImage(Mapped("nbd", "/dev/nbd0", "berth", "db")));
  EXPECT_FALSE(nbd.ServesImage(Mapped("nbd", "/dev/nbd0", "berth", "d")));
  EXPECT_FALSE(nbd.ServesImage(Mapped("nbd", "/dev/nbd1", "berth", "db")));  // no daemon
  Write("/sys/block/nbd2/pid", "999\n");                                     // daemon gone
  EXPECT_FALSE(nbd.ServesImage(Mapped("nbd", "/dev/nbd2", "berth", "db")));
}

TEST_F(MapperIdentityTest, ARecordedRbdFusePidOfAnotherVolumeIsNeverStopped) {
  const std::string ours = root_ + "/attach/db/fuse";
  const std::string theirs = root_ + "/attach/other/fuse";
  MakeDirectories(ours);
  // FuseCommand puts the mount point in rbd-fuse's argv.
  const pid_t other = testing::StartStandIn(root_, "rbd-fuse", {theirs});
  ASSERT_TRUE(ProcessRuns(other, "rbd-fuse"));
  EXPECT_TRUE(FuseMapper::ServesFuseDir(other, theirs));
  EXPECT_FALSE(FuseMapper::ServesFuseDir(other, ours));
  EXPECT_FALSE(FuseMapper::ServesFuseDir(other, root_ + "/attach/other"));  // whole argument only

  // After a reboot, db's pid file names a pid that is now the other volume's rbd-fuse.
  WriteFileAtomically(root_ + "/attach/db/rbd-fuse.pid", std::to_string(other) + "\n");
  FuseMapper mapper;
  MapRequest request;
  request.pool = "berth";
  request.image = "db";
  request.work_dir = root_ + "/attach/db";
  mapper.UnmapAbandoned(request);
  mapper.Unmap({"fuse", "", other, ours, "berth", "db"});
  EXPECT_TRUE(ProcessAlive(other)) << "another volume's rbd-fuse was stopped";
  EXPECT_FALSE(mapper.Healthy({"fuse", "/dev/loop0", other, ours, "berth", "db"}));
  ::kill(other, SIGKILL);
}

}  // namespace
}  // namespace berth::rbd
