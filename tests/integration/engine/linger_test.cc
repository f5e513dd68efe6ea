// The linger on a real cluster: a volume lingering on host A goes to host B the moment B needs
// it (RADOS watch/notify on its lock object, no takeover grace, no fencing), with its data; a
// volume in use is not given up; remove, rollback and lock break from another host end it; and a
// lingering host that dies is taken over with fencing as any dead host is.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <thread>

#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"
#include "tests/unit/expect_error.h"

namespace berth::testing {
namespace {

// A host as berthd runs it: a worker pool for detaches and release requests, and a linger whose
// timer never fires (the tests end lingers by what they do, not by time).
class LingeringHost {
 public:
  explicit LingeringHost(engine::Config config) : engine(WithLinger(std::move(config))) {
    engine.set_detach_executor(
        [this](std::function<void()> work) { boost::asio::post(pool_, std::move(work)); });
    engine.set_linger_scheduler([](std::chrono::milliseconds, std::function<void()>) {});
  }
  ~LingeringHost() {
    try {
      if (!crashed) {
        engine.EndLingers();
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "ending lingers: " << e.what();
    }
    pool_.join();
  }
  LingeringHost(const LingeringHost&) = delete;
  LingeringHost& operator=(const LingeringHost&) = delete;

  static engine::Config WithLinger(engine::Config config) {
    config.linger_seconds = 30;  // the lab's berth.json turns it off for the rest of the suite
    return config;
  }

  // Declared first: destroyed after the engine, whose requests it may still be running.
  boost::asio::thread_pool pool_{2};
  engine::Engine engine;
  bool crashed = false;  // the host died: nothing is ended on the way out
};

std::optional<engine::Phase> PhaseOn(engine::Engine& engine, const std::string& name) {
  const auto state = engine.LocalState(name);
  return state ? std::optional(state->phase) : std::nullopt;
}

// The Ceph clients of `name` on `engine`'s host: its lock holder and every watcher of the image
// (its mapper). Other tests fence clients of their own meanwhile, so only these are checked.
std::vector<std::string> ClientsOf(engine::Engine& engine, const std::string& name) {
  const auto locks = engine.Locks(name);
  std::vector<std::string> clients = locks.watchers;
  for (const auto& holder : locks.holders) {
    clients.push_back(holder.address);
  }
  EXPECT_GE(clients.size(), 2U) << "a lock holder and a mapper";
  return clients;
}

bool AnyFenced(const std::vector<std::string>& clients) {
  for (const auto& address : LabCluster().BlocklistedAddresses()) {
    if (std::find(clients.begin(), clients.end(), address) != clients.end()) {
      ADD_FAILURE() << address << " was fenced";
      return true;
    }
  }
  return false;
}

TEST(Linger, AnotherHostGetsALingeringVolumeAtOnceWithItsDataAndNobodyIsFenced) {
  const engine::Config config_a = LabConfig("host-a");
  const std::string name = UniqueName("linger");
  LingeringHost a(config_a);
  // B never takes over: only the handoff can give it the volume.
  engine::Engine b(WithTakeover(LabConfig("host-b"), false, 2));
  Cleanups cleanups;
  cleanups.Add([&] { ReleaseAndRemove(b, name); });

  a.engine.Create(name, {{"size", "128M"}});
  const std::string mount_a = a.engine.Mount(name, "c1").mount_path;
  WriteRandomFile(mount_a + "/data", 4);
  const std::string sum = Sha256(mount_a + "/data");
  a.engine.Unmount(name, "c1");
  ASSERT_EQ(PhaseOn(a.engine, name), engine::Phase::kLingering);
  EXPECT_TRUE(IsMounted(mount_a));
  const auto a_clients = ClientsOf(a.engine, name);

  const auto mb = b.Mount(name, "c2");
  EXPECT_FALSE(mb.formatted);
  EXPECT_EQ(Sha256(mb.mount_path + "/data"), sum);
  ASSERT_EQ(b.Locks(name).holders.size(), 1U);
  EXPECT_EQ(b.Locks(name).holders.at(0).host_id, b.config().host_id);
  // Host A is gone from the volume entirely, and nobody was fenced.
  EXPECT_FALSE(PhaseOn(a.engine, name));
  EXPECT_FALSE(IsMounted(mount_a));
  EXPECT_TRUE(LoopsUnder(config_a.state_dir).empty());
  EXPECT_FALSE(AnyFenced(a_clients));

  // A writer on B: A's own Mount is refused (B holds the volume and its mapper is alive), and
  // B's writes go on.
  std::thread writer([&] { WriteRandomFile(mb.mount_path + "/from-b", 16); });
  ExpectError([&] { a.engine.Mount(name, "c3"); }, ErrorCode::kBusy,
              {"host " + b.config().host_id});
  writer.join();
  const std::string sum_b = Sha256(mb.mount_path + "/from-b");
  EXPECT_FALSE(PhaseOn(a.engine, name));

  // B lets go (no linger there), and A gets both files back.
  b.Unmount(name, "c2");
  const auto ma = a.engine.Mount(name, "c4");
  EXPECT_EQ(Sha256(ma.mount_path + "/data"), sum);
  EXPECT_EQ(Sha256(ma.mount_path + "/from-b"), sum_b);
  a.engine.Unmount(name, "c4");
  EXPECT_EQ(PhaseOn(a.engine, name), engine::Phase::kLingering);
  // A lingers again; the cleanup's Remove on B ends it.
}

TEST(Linger, RollbackLockBreakAndRemoveOnAnotherHostEndTheLinger) {
  const engine::Config config_a = LabConfig("host-a");
  const std::string name = UniqueName("linger-ops");
  LingeringHost a(config_a);
  engine::Engine b(LabConfig("host-b"));
  bool removed = false;
  Cleanups cleanups;
  cleanups.Add([&] {
    if (!removed) {
      ReleaseAndRemove(b, name);
    }
  });
  a.engine.Create(name, {{"size", "64M"}});
  const auto linger = [&](const std::string& file) {
    const std::string path = a.engine.Mount(name, "c1").mount_path;
    WriteFileAtomically(path + "/" + file, file);
    a.engine.Unmount(name, "c1");
    ASSERT_EQ(PhaseOn(a.engine, name), engine::Phase::kLingering);
  };
  linger("before");
  b.CreateSnapshot(name, "s1");  // taken while it lingers: synced, so consistent
  linger("after");

  b.Rollback(name, "s1", nullptr);
  EXPECT_FALSE(PhaseOn(a.engine, name));
  const std::string path = a.engine.Mount(name, "c1").mount_path;
  EXPECT_TRUE(PathExists(path + "/before"));
  EXPECT_FALSE(PathExists(path + "/after"));
  a.engine.Unmount(name, "c1");

  ASSERT_EQ(PhaseOn(a.engine, name), engine::Phase::kLingering);
  const auto a_clients = ClientsOf(a.engine, name);
  EXPECT_TRUE(b.BreakLock(name, /*fence=*/true).empty());
  EXPECT_FALSE(PhaseOn(a.engine, name));
  EXPECT_TRUE(b.Locks(name).holders.empty());
  EXPECT_FALSE(AnyFenced(a_clients));

  linger("again");
  b.RemoveSnapshot(name, "s1");
  b.Remove(name);
  removed = true;
  EXPECT_FALSE(PhaseOn(a.engine, name));
  EXPECT_FALSE(IsMounted(config_a.mount_root + "/" + name));
  EXPECT_TRUE(LoopsUnder(config_a.state_dir).empty());
  EXPECT_THROW(b.Get(name), Error);
}

TEST(Linger, ALingeringHostThatDiesIsTakenOverWithFencing) {
  const engine::Config config_a = LabConfig("host-a");
  const std::string name = UniqueName("linger-dead");
  const engine::Config config_b = WithTakeover(LabConfig("host-b"), true, 2);
  engine::Engine b(config_b);
  Cleanups cleanups;
  cleanups.Add([&] { ReleaseAndRemove(b, name); });
  std::string sum;
  pid_t mapper = 0;
  {
    LingeringHost a(config_a);
    a.engine.Create(name, {{"size", "64M"}});
    const std::string path = a.engine.Mount(name, "c1").mount_path;
    WriteRandomFile(path + "/data", 2);
    sum = Sha256(path + "/data");
    a.engine.Unmount(name, "c1");
    ASSERT_EQ(PhaseOn(a.engine, name), engine::Phase::kLingering);
    mapper = a.engine.LocalState(name)->attachment.backend.value("pid", 0);
    ASSERT_GT(mapper, 0);
    // Host A dies: its mapper with it, and its berthd (the engine, with its watch) unanswering.
    ASSERT_EQ(::kill(mapper, SIGKILL), 0);
    cleanups.Add([config_a, name] {
      engine::Engine restarted(config_a);  // what is left of host A: its start's reconcile
      restarted.Reconcile();
    });
    a.crashed = true;  // it goes without ending its linger, as a dead host does
  }
  ASSERT_TRUE(WaitUntilUnwatched(b, name)) << "host A's mapper's watch never expired";
  const auto mb = b.Mount(name, "c2");
  EXPECT_FALSE(mb.formatted);
  EXPECT_EQ(Sha256(mb.mount_path + "/data"), sum);
  EXPECT_EQ(b.Locks(name).holders.at(0).host_id, config_b.host_id);
  b.Unmount(name, "c2");
}

}  // namespace
}  // namespace berth::testing
