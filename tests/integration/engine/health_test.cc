// Engine::Health (berthctl health): orphans are found, and --fix removes only what nothing uses.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

const engine::Engine::HealthCheck* FindCheck(const std::vector<engine::Engine::HealthCheck>& checks,
                                             const std::string& prefix) {
  for (const auto& c : checks) {
    if (c.check.starts_with(prefix)) {
      return &c;
    }
  }
  return nullptr;
}

TEST(Health, FindsOrphansAndFixesOnlyWhatIsUnused) {
  engine::Engine engine(LabConfig("host-health"));
  const auto& config = engine.config();

  // A clean host first.
  auto clean = engine.Health(false);
  for (const auto& c : clean) {
    EXPECT_TRUE(c.ok) << c.check << ": " << c.detail;
  }
  ASSERT_NE(FindCheck(clean, "backend rbd"), nullptr);
  ASSERT_NE(FindCheck(clean, "mapper fuse"), nullptr);

  // 1. A volume whose mount vanished behind berth's back (an admin's umount): still mapped
  // and locked for nothing.
  const std::string name = UniqueName("health");
  engine.Create(name, {{"size", "64M"}});
  VolumeCleanup cleanup(engine, name);
  auto mount = engine.Mount(name, "c1");
  ASSERT_EQ(::umount2(mount.mount_path.c_str(), 0), 0);
  // 2. A mount under the mount root that no state file knows, unused.
  const std::string ghost = config.mount_root + "/ghost";
  MakeDirectories(ghost);
  ASSERT_EQ(::mount("tmpfs", ghost.c_str(), "tmpfs", 0, "size=1m"), 0);
  // 3. Another one that a process is using.
  const std::string busy = config.mount_root + "/busy";
  MakeDirectories(busy);
  ASSERT_EQ(::mount("tmpfs", busy.c_str(), "tmpfs", 0, "size=1m"), 0);
  const pid_t user = SpawnDetached({"sh", "-c", "cd \"$0\" && exec sleep 60", busy}, "/dev/null");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  auto report = engine.Health(false);
  const auto* volume = FindCheck(report, "volume " + name);
  ASSERT_NE(volume, nullptr);
  EXPECT_FALSE(volume->ok) << volume->detail;
  EXPECT_NE(volume->detail.find("not mounted, mapping alive"), std::string::npos) << volume->detail;
  const auto* ghost_check = FindCheck(report, "orphan mount " + ghost);
  ASSERT_NE(ghost_check, nullptr);
  EXPECT_FALSE(ghost_check->fixed);
  EXPECT_TRUE(IsMounted(ghost)) << "a report without --fix changed something";

  auto fixed = engine.Health(true);
  EXPECT_TRUE(FindCheck(fixed, "volume " + name)->fixed);
  EXPECT_TRUE(FindCheck(fixed, "orphan mount " + ghost)->fixed);
  const auto* busy_check = FindCheck(fixed, "orphan mount " + busy);
  ASSERT_NE(busy_check, nullptr);
  EXPECT_FALSE(busy_check->fixed) << "a mount in use was removed";
  EXPECT_NE(busy_check->detail.find("left alone"), std::string::npos) << busy_check->detail;
  EXPECT_FALSE(IsMounted(ghost));
  EXPECT_FALSE(IsMounted(mount.mount_path));
  EXPECT_TRUE(IsMounted(busy));
  EXPECT_FALSE(engine.Get(name).local.has_value());
  EXPECT_TRUE(LoopsUnder(config.state_dir).empty());
  EXPECT_TRUE(engine.Get(name).holders.empty()) << "the lock outlived the cleanup";

  StopDetached(user, "sleep", "60", std::chrono::seconds(2));
  auto after = engine.Health(true);
  EXPECT_TRUE(FindCheck(after, "orphan mount " + busy)->fixed);
  EXPECT_FALSE(IsMounted(busy));
  // The volume itself is intact: it mounts again with its filesystem.
  EXPECT_FALSE(engine.Mount(name, "c2").formatted);
  engine.Unmount(name, "c2");
}

}  // namespace
}  // namespace berth::testing
