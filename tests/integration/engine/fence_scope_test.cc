// What a fence of one volume cuts off: that volume's clients (the lock's and its mapper's), and
// nothing else of the host. The host's other volume stays writable and its control path (this
// process's shared Ceph client) keeps working. Both as berthctl runs (a client connected for each
// lock as it is taken) and as berthd runs (the next lock's client connected ahead, in the
// background).
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

// An address without its messenger prefix ("v1:127.0.0.1:0/42" is "127.0.0.1:0/42"), as the
// blocklist lists it.
std::string Bare(const std::string& address) {
  for (const std::string prefix : {"v1:", "v2:", "any:"}) {
    if (address.starts_with(prefix)) {
      return address.substr(prefix.size());
    }
  }
  return address;
}

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& entry) { return Bare(entry) == Bare(item); });
}

uint64_t ClientsReplaced(const engine::Engine& engine) {
  uint64_t total = 0;
  for (const auto& [backend, n] : engine.FencedClientsReplaced()) {
    total += n;
  }
  return total;
}

// Writes 2 MiB and fsyncs it; the exit code of dd.
int WriteAndSync(const std::string& path) {
  return RunCommand({"dd", "if=/dev/urandom", "of=" + path, "bs=1M", "count=2", "conv=fsync",
                     "status=none"},
                    std::chrono::minutes(2))
      .exit_code;
}

void ExpectAFenceOfOneVolumeLeavesTheOtherWritable(engine::Engine& a) {
  LabCluster admin;
  const std::string fenced = UniqueName("fence-one");
  const std::string spared = UniqueName("fence-other");
  // Only the fences this test makes are lifted after it: the lab is shared, and lifting a
  // fence another test made (a takeover's, say) would let that test's dead host write again.
  std::vector<std::string> ours;
  Cleanups cleanups;
  cleanups.Add([&] {
    const auto blocklist = admin.BlocklistedAddresses();
    for (const auto& address : ours) {
      if (Contains(blocklist, address)) {
        admin.Unblocklist(address);
      }
    }
    ReleaseAndRemove(a, spared);
    ReleaseAndRemove(a, fenced);
  });
  a.Create(fenced, {{"size", "64M"}});
  a.Create(spared, {{"size", "64M"}});
  const std::string fenced_dir = a.Mount(fenced, "c1").mount_path;
  const std::string spared_dir = a.Mount(spared, "c2").mount_path;
  ASSERT_EQ(WriteAndSync(fenced_dir + "/before"), 0);
  ASSERT_EQ(WriteAndSync(spared_dir + "/before"), 0);
  const auto fenced_locks = a.Locks(fenced);
  const auto spared_locks = a.Locks(spared);
  ASSERT_EQ(fenced_locks.holders.size(), 1u);
  ASSERT_EQ(spared_locks.holders.size(), 1u);
  ASSERT_FALSE(spared_locks.watchers.empty());
  // Each lock was taken by a client of its own, not by the one this process shares.
  EXPECT_NE(fenced_locks.holders[0].address, spared_locks.holders[0].address);

  // Another host fences the first volume, as `berthctl lock break --fence` does.
  ours = fenced_locks.watchers;
  ours.push_back(fenced_locks.holders[0].address);
  engine::Engine b(LabConfig("host-b"));
  b.BreakLock(fenced, /*fence=*/true);
  admin.SyncOsdMap();  // the OSD enforces the fence before host A's next write is sent
  const auto blocklist = admin.BlocklistedAddresses();
  EXPECT_TRUE(Contains(blocklist, fenced_locks.holders[0].address));
  for (const auto& watcher : fenced_locks.watchers) {
    EXPECT_TRUE(Contains(blocklist, watcher)) << "the fenced volume's mapper " << watcher;
  }
  EXPECT_FALSE(Contains(blocklist, spared_locks.holders[0].address));
  for (const auto& watcher : spared_locks.watchers) {
    EXPECT_FALSE(Contains(blocklist, watcher)) << "the other volume's mapper " << watcher;
  }

  // The fenced volume can no longer write; the other one can, and its data reads back.
  EXPECT_NE(WriteAndSync(fenced_dir + "/after"), 0) << "a fenced volume could still write";
  ASSERT_EQ(WriteAndSync(spared_dir + "/after"), 0) << "the fence cut off the host's other volume";
  const std::string sum = Sha256(spared_dir + "/after");

  // The host's control path was not fenced: it detaches the other volume (unlocking it) and
  // attaches it again, with no client replaced.
  a.Unmount(spared, "c2");
  // With a detach executor the detach finishes in the background.
  for (const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
       a.LocalState(spared) && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(a.LocalState(spared)) << "the detach did not finish";
  EXPECT_TRUE(a.Locks(spared).holders.empty());
  const std::string again = a.Mount(spared, "c2").mount_path;
  EXPECT_EQ(Sha256(again + "/after"), sum);
  EXPECT_EQ(ClientsReplaced(a), 0u);
  // A lock taken again gets a new client too (with clients connected ahead: the one made after
  // the last attach), never the one of an earlier lock.
  const auto relocked = a.Locks(spared);
  ASSERT_EQ(relocked.holders.size(), 1u);
  EXPECT_NE(relocked.holders[0].address, spared_locks.holders[0].address);
  EXPECT_NE(relocked.holders[0].address, fenced_locks.holders[0].address);
}

TEST(FenceScope, AFenceOfOneVolumeLeavesTheHostsOtherVolumeWritable) {
  engine::Engine a(LabConfig("host-a"));
  ExpectAFenceOfOneVolumeLeavesTheOtherWritable(a);
}

TEST(FenceScope, WithLockClientsConnectedAheadAFenceStillCutsOffOneVolumeOnly) {
  boost::asio::thread_pool pool(2);  // berthd's detach pool: declared first, joined last
  {
    engine::Engine a(LabConfig("host-a"));
    a.set_detach_executor(
        [&pool](std::function<void()> work) { boost::asio::post(pool, std::move(work)); });
    ExpectAFenceOfOneVolumeLeavesTheOtherWritable(a);
    pool.join();  // the last client connected ahead, before the engine that owns it goes
  }
}

}  // namespace
}  // namespace berth::testing
