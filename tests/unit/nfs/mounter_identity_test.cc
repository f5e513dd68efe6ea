// Pids recycle, and pid records outlive a reboot: berth-nfs-fuse is recognised by the log file in
// its volume's work dir, so another volume's process is never stopped for this one.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "backends/nfs/mounters/fuse.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "tests/support/stand_in.h"

namespace berth::nfs {
namespace {

class FuseMounterIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-nfs-identity-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    if (stand_in_ > 0) {
      ::kill(stand_in_, SIGKILL);
    }
    std::filesystem::remove_all(root_);
  }
  std::string root_;
  pid_t stand_in_ = 0;
};

TEST_F(FuseMounterIdentityTest, AnotherVolumesProcessUnderARecordedPidIsNeverStopped) {
  const std::string ours = root_ + "/attach/db";
  const std::string theirs = root_ + "/attach/other";
  // Command puts `--log <work dir>/berth-nfs-fuse.log` in its argv.
  const pid_t other = stand_in_ =
      testing::StartStandIn(root_, "berth-nfs-fuse", {"--log", theirs + "/berth-nfs-fuse.log"});
  ASSERT_TRUE(ProcessRuns(other, "berth-nfs-fuse"));
  EXPECT_TRUE(FuseMounter::Serves({"fuse", other, theirs}));
  EXPECT_FALSE(FuseMounter::Serves({"fuse", other, ours}));
  EXPECT_FALSE(FuseMounter::Serves({"fuse", other, ""})) << "an older record cannot tell";

  FuseMounter mounter;
  mounter.Release({"fuse", other, ours});
  mounter.Release({"fuse", other, ""});
  EXPECT_TRUE(ProcessAlive(other)) << "another volume's berth-nfs-fuse was stopped";
  EXPECT_FALSE(mounter.Healthy({"fuse", other, ours}, root_ + "/mnt/db"));
}

}  // namespace
}  // namespace berth::nfs
