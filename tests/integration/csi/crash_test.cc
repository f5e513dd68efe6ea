// berth-csi killed with SIGKILL in the middle of each node call, then retried the way kubelet
// retries: the call succeeds, nothing is leaked, and nothing is formatted twice. And a writer
// writing through a published volume while berth-csi is killed and restarted never sees an
// error: the mappers and mounts outlive the driver, which adopts them when it returns.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <thread>

#include "common/files.h"
#include "common/subprocess.h"
#include "fsutil/mountinfo.h"
#include "tests/integration/csi/csi_node.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

const auto kCrashWriter = MountCapability(AccessMode::SINGLE_NODE_WRITER, "ext4");

std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> mounts;
  for (const auto& entry : fsutil::ReadMountInfo()) {
    if (entry.mount_point.starts_with(dir + "/")) {
      mounts.push_back(entry.mount_point);
    }
  }
  return mounts;
}

// Runs `call` on a berth-csi started with BERTH_FAULT=`step`: it must die there. A clean
// berth-csi then takes the retry, which must succeed.
template <typename Call>
void KillAtThenRetry(CsiNode& node, const std::string& step, Call call) {
  node.Restart({"BERTH_FAULT=" + step});
  const grpc::Status killed = call();
  EXPECT_FALSE(killed.ok()) << "the call passed " << step << " without dying there";
  EXPECT_TRUE(node.process().Exits(std::chrono::seconds(10)))
      << "berth-csi did not die at " << step;
  node.Restart();
  const grpc::Status retried = call();
  ASSERT_TRUE(retried.ok()) << step << ": " << retried.error_message();
}

class CsiKilledMidCall : public ::testing::TestWithParam<std::string> {};

TEST_P(CsiKilledMidCall, RetryEndsWithNothingLeakedAndOneFormat) {
  const std::string step = GetParam();
  CsiNode node("crash");
  const std::string pv = UniqueName("pvc");
  ASSERT_TRUE(node.CreateVolume(pv, 64 * kCsiMiB, kCrashWriter).ok());
  const auto stage = [&] { return node.Stage(pv, kCrashWriter).status; };
  const auto publish = [&] { return node.Publish(pv, "pod", kCrashWriter).status; };
  const auto unpublish = [&] { return node.Unpublish(pv, "pod").status; };
  const auto unstage = [&] { return node.Unstage(pv).status; };
  const bool in_stage = step.starts_with("attach.") || step.starts_with("mount.");
  const bool in_unstage = step.starts_with("detach.");

  if (in_stage) {
    ASSERT_NO_FATAL_FAILURE(KillAtThenRetry(node, step, stage));
  } else {
    ASSERT_TRUE(stage().ok());
  }
  if (step == "publish.referenced") {
    ASSERT_NO_FATAL_FAILURE(KillAtThenRetry(node, step, publish));
  } else {
    ASSERT_TRUE(publish().ok());
  }
  const std::string target = node.PublishPath("pod", pv);
  ASSERT_TRUE(IsMounted(target));
  WriteFileAtomically(target + "/data", "written before the kill\n", 0644);
  ::sync();
  if (step == "unpublish.unmounted") {
    ASSERT_NO_FATAL_FAILURE(KillAtThenRetry(node, step, unpublish));
  } else {
    ASSERT_TRUE(unpublish().ok());
  }
  if (in_unstage) {
    ASSERT_NO_FATAL_FAILURE(KillAtThenRetry(node, step, unstage));
  } else {
    ASSERT_TRUE(unstage().ok());
  }

  // Nothing left: no mount under the node (FUSE mapper, loop-backed filesystem, binds), no loop
  // device over its files, no lock.
  EXPECT_EQ(MountsUnder(node.base()), std::vector<std::string>{});
  EXPECT_EQ(LoopsUnder(node.base()), std::vector<std::string>{});
  EXPECT_EQ(node.ControllerGetVolume(pv).reply.status().published_node_ids_size(), 0);
  // The data is there on the next stage, and the volume was formatted once, whatever died where.
  ASSERT_TRUE(stage().ok());
  ASSERT_TRUE(node.Publish(pv, "pod-2", kCrashWriter).ok());
  EXPECT_EQ(ReadFileIfExists(node.PublishPath("pod-2", pv) + "/data").value_or(""),
            "written before the kill\n");
  EXPECT_EQ(node.LogCount("was never formatted; creating"), 1);
  ASSERT_TRUE(node.Unpublish(pv, "pod-2").ok());
  ASSERT_TRUE(unstage().ok());
  EXPECT_TRUE(node.DeleteVolume(pv).ok());
}

INSTANTIATE_TEST_SUITE_P(Steps, CsiKilledMidCall,
                         ::testing::Values("mount.intent", "attach.locked", "attach.mapped",
                                           "mount.attached", "mount.formatted", "mount.recorded",
                                           "mount.mounted", "publish.referenced",
                                           "unpublish.unmounted", "detach.unmapped",
                                           "detach.released"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

TEST(CsiRestart, AWriterNeverSeesAnErrorAndTheVolumeIsHealthyAfter) {
  CsiNode node("restart");
  const std::string pv = UniqueName("pvc");
  ASSERT_TRUE(node.CreateVolume(pv, 128 * kCsiMiB, kCrashWriter).ok());
  ASSERT_TRUE(node.Stage(pv, kCrashWriter).ok());
  ASSERT_TRUE(node.Publish(pv, "pod", kCrashWriter).ok());
  const std::string target = node.PublishPath("pod", pv);

  // Files of 256 KiB, each written and fsynced, until told to stop: berth-csi is killed and
  // restarted twice meanwhile. The names cycle over 128 slots (32 MiB), so a fast disk never
  // fills the 128 MiB volume, however many files fit in the restarts.
  const std::string stop = node.base() + "/stop-writing";
  const std::string script =
      "i=0; while [ ! -e " + stop + " ]; do i=$((i+1)); dd if=/dev/zero of=" + target +
      "/f.$((i % 128)) bs=64k count=4 conv=fsync status=none || exit 1; " + "done; echo $i";
  auto writer = std::async(std::launch::async, [&] { return RunCommand({"sh", "-c", script}); });
  for (int kill = 0; kill < 2; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    node.Restart();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  WriteFileAtomically(stop, "", 0644);
  const CommandResult written = writer.get();
  ASSERT_EQ(written.exit_code, 0) << written.err;
  const int files = std::stoi(written.out);
  EXPECT_GT(files, 2);
  for (int i = 1; i <= std::min(files, 128); ++i) {
    EXPECT_EQ(std::filesystem::file_size(target + "/f." + std::to_string(i % 128)), 256U * 1024)
        << i;
  }
  auto stats = node.Stats(pv, target);
  ASSERT_TRUE(stats.ok()) << stats.status.error_message();
  EXPECT_FALSE(stats.reply.volume_condition().abnormal())
      << stats.reply.volume_condition().message();
  EXPECT_GE(node.LogCount("adopted"), 1);
  ASSERT_TRUE(node.Unpublish(pv, "pod").ok());
  ASSERT_TRUE(node.Unstage(pv).ok());
  EXPECT_TRUE(node.DeleteVolume(pv).ok());
}

}  // namespace
}  // namespace berth::testing
