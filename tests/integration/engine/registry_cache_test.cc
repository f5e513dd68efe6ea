// The registry copy that answers dockerd's List, Get and Path: another host's change shows
// through its notify (here the copy's bound is a minute, so nothing else could show it), this
// host's own at once, and a change nobody notified within the bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "backends/rbd/lock.h"
#include "backends/rbd/registry.h"
#include "common/error.h"
#include "engine/engine.h"
#include "engine/volume_record.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

engine::Config WithRegistryCache(engine::Config config, int seconds) {
  for (auto& [name, backend] : config.backends) {
    backend.settings["registry_cache_seconds"] = seconds;  // rbd and nfs
  }
  return config;
}

bool Listed(engine::Engine& engine, const std::string& name) {
  bool listed = false;
  engine.VisitCached(
      [&](const engine::VolumeRecord& record, const std::optional<engine::HostVolumeState>&) {
        listed = listed || record.spec.name == name;
      });
  return listed;
}

// Polls `done` for up to `limit`; a deadline for a functional property, not a timing claim.
bool Within(seconds limit, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TEST(RegistryCacheTest, AnotherHostsChangesShowThroughItsNotify) {
  engine::Engine host_a(WithRegistryCache(LabConfig("cache-a"), 60));
  engine::Engine host_b(LabConfig("cache-b"));
  const std::string first = UniqueName("cache");
  const std::string second = UniqueName("cache2");
  host_b.Create(first, {{"size", "64M"}});
  Cleanups cleanups;
  cleanups.Add([&] { ReleaseAndRemove(host_b, first); });
  ASSERT_TRUE(Listed(host_a, first));  // host-a's copy is filled now, for a minute

  host_b.Create(second, {{"size", "64M"}});
  cleanups.Add([&] { RemoveIfPresent(host_b, second); });
  EXPECT_TRUE(Within(seconds(10), [&] { return Listed(host_a, second); }))
      << "a volume created on host-b never showed in host-a's List";

  // An update: the first mount records the format in the registry (compare-and-set).
  EXPECT_FALSE(host_a.GetCached(first).record.formatted());
  host_b.Mount(first, "b-1");
  host_b.Unmount(first, "b-1");
  EXPECT_TRUE(Within(seconds(10), [&] { return host_a.GetCached(first).record.formatted(); }))
      << "host-b's format record never showed in host-a's Get";

  host_b.Remove(second);
  EXPECT_TRUE(Within(seconds(10), [&] { return !Listed(host_a, second); }))
      << "a volume removed on host-b stayed in host-a's List";
  try {
    host_a.GetCached(second);
    ADD_FAILURE() << "Get of a removed volume answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
  }
}

bool HeldBy(engine::Engine& engine, const std::string& name, const std::string& host_id) {
  const auto holders = engine.GetCached(name).holders;
  return std::any_of(holders.begin(), holders.end(),
                     [&](const engine::HolderInfo& holder) { return holder.host_id == host_id; });
}

TEST(RegistryCacheTest, LockHoldersShowThroughTheLockersNotify) {
  engine::Engine host_a(WithRegistryCache(LabConfig("holders-a"), 60));
  engine::Engine host_b(WithRegistryCache(LabConfig("holders-b"), 60));
  const std::string name = UniqueName("holders");
  host_b.Create(name, {{"size", "64M"}});
  Cleanups cleanups;
  cleanups.Add([&] { ReleaseAndRemove(host_b, name); });
  // Both copies hold "nobody" for a minute from here: only a notify can change that.
  ASSERT_TRUE(host_a.GetCached(name).holders.empty());
  ASSERT_TRUE(host_b.GetCached(name).holders.empty());

  host_b.Mount(name, "b-1");
  EXPECT_TRUE(HeldBy(host_b, name, host_b.config().host_id))
      << "host-b's own lock was not in its Get at once";
  EXPECT_TRUE(Within(seconds(10), [&] { return HeldBy(host_a, name, host_b.config().host_id); }))
      << "host-b's lock never showed in host-a's Get";

  host_b.Unmount(name, "b-1");
  EXPECT_TRUE(host_b.GetCached(name).holders.empty()) << "host-b's own unlock did not show at once";
  EXPECT_TRUE(Within(seconds(10), [&] { return host_a.GetCached(name).holders.empty(); }))
      << "host-b's unlock never showed in host-a's Get";
}

TEST(RegistryCacheTest, GetsInARowReadEveryLockOnceInTheBackground) {
  constexpr int kVolumes = 20;
  engine::Engine host_b(LabConfig("scan-b"));
  std::vector<std::string> names;
  Cleanups cleanups;
  for (int i = 0; i < kVolumes; ++i) {
    names.push_back(UniqueName("scan"));
    host_b.Create(names.back(), {{"size", "64M"}});
    cleanups.Add([&host_b, name = names.back()] { ReleaseAndRemove(host_b, name); });
  }
  const std::string& last = names.back();
  host_b.Mount(last, "b-1");
  cleanups.Add([&host_b, last] { host_b.Unmount(last, "b-1"); });

  boost::asio::thread_pool pool(2);  // berthd's detach pool: joined before host-a goes
  {
    engine::Engine host_a(WithRegistryCache(LabConfig("scan-a"), 60));
    host_a.set_detach_executor(
        [&pool](std::function<void()> work) { boost::asio::post(pool, std::move(work)); });
    // 16 Gets that read their lock (every volume but the last) make a scan of every lock.
    for (int i = 0; i + 1 < kVolumes; ++i) {
      EXPECT_TRUE(host_a.GetCached(names[i]).holders.empty()) << names[i];
    }
    pool.join();  // the scan has finished

    // The last volume's lock was read by the scan only. Broken by hand with no notify (as an
    // older berth would), the copy still answers host-b for the bound: it came from the scan.
    LabCluster lab;
    const auto io = lab.client()->OpenPool(lab.pool());
    const auto image = host_b.Get(last).record.spec.image;
    const auto holders = rbd::ListLockHolders(io, image);
    ASSERT_EQ(holders.size(), 1u);
    rbd::BreakLock(io, image, holders.front());
    const auto seen = host_a.GetCached(last).holders;
    ASSERT_EQ(seen.size(), 1u) << "the last volume's Get read its lock: the scan did not run";
    EXPECT_EQ(seen.front().host_id, host_b.config().host_id);
    EXPECT_TRUE(host_a.Get(last).holders.empty()) << "a Get that decides reads through";
  }
}

TEST(RegistryCacheTest, NfsChangesShowThroughTheRegistryDirectorysStamp) {
  engine::Engine host_a(WithRegistryCache(LabConfig("nfs-cache-a"), 60));
  engine::Engine host_b(LabConfig("nfs-cache-b"));
  const std::string first = UniqueName("nfs-cache");
  const std::string second = UniqueName("nfs-cache2");
  host_b.Create(first, {{"backend", "nfs"}, {"on_remove", "delete"}});
  Cleanups cleanups;
  cleanups.Add([&] { RemoveIfPresent(host_b, first); });
  ASSERT_TRUE(Listed(host_a, first));  // host-a's copy is filled now, for a minute
  ASSERT_TRUE(Listed(host_a, first));  // and answers from it

  // dockerd asks Get before it would Create: a name the copy lacks is read through.
  host_b.Create(second, {{"backend", "nfs"}, {"on_remove", "delete"}});
  cleanups.Add([&] { RemoveIfPresent(host_b, second); });
  EXPECT_EQ(host_a.GetCached(second).record.spec.name, second);
  EXPECT_TRUE(Listed(host_a, second)) << "a volume created on host-b never showed in host-a's List";

  host_b.Remove(second);
  EXPECT_FALSE(Listed(host_a, second)) << "a volume removed on host-b stayed in host-a's List";
  try {
    host_a.GetCached(second);
    ADD_FAILURE() << "Get of a removed volume answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
  }
}

TEST(RegistryCacheTest, OwnChangesShowAtOnceAndAGetOfANewNameReadsThrough) {
  engine::Engine host_a(WithRegistryCache(LabConfig("own-a"), 60));
  engine::Engine host_b(WithRegistryCache(LabConfig("own-b"), 60));
  const std::string name = UniqueName("own");
  const std::string other = UniqueName("own-other");
  host_a.Create(other, {{"size", "64M"}});
  Cleanups cleanups;
  cleanups.Add([&] { ReleaseAndRemove(host_a, other); });
  ASSERT_TRUE(Listed(host_a, other));
  ASSERT_TRUE(Listed(host_b, other));  // both copies filled

  host_a.Create(name, {{"size", "64M"}});
  cleanups.Add([&] { RemoveIfPresent(host_a, name); });
  EXPECT_TRUE(Listed(host_a, name)) << "this host's own Create was not in its List at once";
  // dockerd on another host asks Get before it would Create: a name the copy lacks is read
  // through, so it is never told "no such volume" for a volume that exists.
  EXPECT_EQ(host_b.GetCached(name).record.spec.name, name);

  host_a.Remove(name);
  EXPECT_FALSE(Listed(host_a, name)) << "this host's own Remove was still in its List";
}

TEST(RegistryCacheTest, AChangeNobodyNotifiedShowsWithinTheBound) {
  engine::Engine host_a(WithRegistryCache(LabConfig("bound-a"), 1));
  const std::string name = UniqueName("bound");
  const std::string by_hand = UniqueName("bound-by-hand");
  const auto record = host_a.Create(name, {{"size", "64M"}});
  Cleanups cleanups;
  cleanups.Add([&] { ReleaseAndRemove(host_a, name); });
  ASSERT_TRUE(Listed(host_a, name));

  // A writer that sends no notify (an older berth): the entry is written by hand.
  LabCluster lab;
  const auto io = lab.client()->OpenPool(lab.pool());
  const rbd::Registry registry(io);
  engine::VolumeRecord copy = record;  // another volume's entry, with an image of its own
  copy.spec.name = by_hand;
  copy.spec.image = by_hand;
  ASSERT_TRUE(registry.PutNew(by_hand, engine::RecordToString(copy)));
  Cleanups raw;  // after the registry it uses, so it runs first
  raw.Add([&] { registry.Remove(by_hand); });
  EXPECT_TRUE(Within(seconds(10), [&] { return Listed(host_a, by_hand); }))
      << "an entry written without a notify never showed, with a bound of 1 s";
}

}  // namespace
}  // namespace berth::testing
