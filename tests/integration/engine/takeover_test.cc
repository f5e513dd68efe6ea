// Automatic takeover from a dead host: a read-write attach takes a volume over from a host
// whose mappers stopped watching the image for the grace period, fencing that host first.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "backends/rbd/lock.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"
#include "tests/unit/expect_error.h"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;

TEST(Takeover, ADeadHostIsFencedAndTheVolumeMovesWithItsData) {
  const engine::Config config_a = LabConfig("host-a");
  const std::string name = UniqueName("takeover");
  std::string mount_a;
  pid_t mapper = 0;
  {
    engine::Engine a(config_a);
    a.Create(name, {{"size", "128M"}});
    mount_a = a.Mount(name, "c1").mount_path;
    WriteRandomFile(mount_a + "/data", 4);
    mapper = a.Get(name).local->attachment.backend.value("pid", 0);
  }
  ASSERT_GT(mapper, 0);
  const std::string sum = Sha256(mount_a + "/data");
  const engine::Config config_b = WithTakeover(LabConfig("host-b"), true, 2);
  Cleanups cleanups;
  cleanups.Add([&] {
    ::kill(mapper, SIGCONT);
    ::kill(mapper, SIGKILL);
    engine::Engine a(config_a);
    a.Unmount(name, "c1");  // host A cleans up what is left of its side
    engine::Engine b(config_b);
    ReleaseAndRemove(b, name);
  });

  // While host A's mapper is alive, nobody takes over, with takeover on or off.
  engine::Engine b(config_b);
  ExpectError([&] { b.Mount(name, "c2"); }, ErrorCode::kBusy, {"host host-a"});

  ASSERT_EQ(::kill(mapper, SIGSTOP), 0);  // host A hangs with the lock held and data cached
  // Still refused while its watch lasts.
  ExpectError([&] { b.Mount(name, "c2"); }, ErrorCode::kBusy, {"host host-a"});
  ASSERT_TRUE(WaitUntilUnwatched(b, name)) << "host A's watch never expired";

  // Without takeover (the operator's choice), the dead host's lock stands.
  engine::Engine c(WithTakeover(LabConfig("host-c"), false, 2));
  ExpectError([&] { c.Mount(name, "c3"); }, ErrorCode::kBusy, {"host host-a"});
  EXPECT_EQ(b.Locks(name).holders.at(0).host_id, config_a.host_id);

  // With takeover: B waits out the grace period, fences A, breaks its lock and mounts.
  const auto started = std::chrono::steady_clock::now();
  auto mb = b.Mount(name, "c2");
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, 2s) << "the grace period was not waited out";
  EXPECT_FALSE(mb.formatted);
  EXPECT_EQ(Sha256(mb.mount_path + "/data"), sum);
  ASSERT_EQ(b.Locks(name).holders.size(), 1u);
  EXPECT_EQ(b.Locks(name).holders.at(0).host_id, config_b.host_id);
  WriteRandomFile(mb.mount_path + "/from-b", 2);
  const std::string sum_b = Sha256(mb.mount_path + "/from-b");

  // Host A wakes up and writes: it was fenced, so nothing reaches the cluster.
  ASSERT_EQ(::kill(mapper, SIGCONT), 0);
  auto late = RunCommand({"dd", "if=/dev/urandom", "of=" + mount_a + "/late", "bs=1M", "count=2",
                          "conv=fsync", "status=none"},
                         std::chrono::minutes(2));
  EXPECT_NE(late.exit_code, 0) << "a fenced host could still write";

  // B's data is intact and the filesystem is clean.
  b.Unmount(name, "c2");
  const std::string device = b.StageAttach(name, /*read_only=*/true, "fsck");
  auto fsck = RunCommand({"e2fsck", "-n", "-f", device}, std::chrono::minutes(2));
  b.ReleaseAlias("fsck");
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  mb = b.Mount(name, "c2");
  EXPECT_EQ(Sha256(mb.mount_path + "/data"), sum);
  EXPECT_EQ(Sha256(mb.mount_path + "/from-b"), sum_b);
  EXPECT_FALSE(PathExists(mb.mount_path + "/late"));
  b.Unmount(name, "c2");
}

}  // namespace
}  // namespace berth::testing
