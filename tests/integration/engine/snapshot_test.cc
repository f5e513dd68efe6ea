// Snapshots, rollback, clones, resize and lock breaking with fencing, on the lab's real Ceph.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "common/error.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

uint64_t FilesystemBytes(const std::string& path) {
  struct statvfs st {};
  EXPECT_EQ(::statvfs(path.c_str(), &st), 0);
  return static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
}

void RemoveSnapshotIfPresent(engine::Engine& engine, const std::string& name,
                             const std::string& snap) {
  for (const auto& s : engine.ListSnapshots(name)) {
    if (s.name == snap) {
      engine.RemoveSnapshot(name, snap);
    }
  }
}

template <typename F>
void ExpectCode(F&& f, ErrorCode code, const std::string& says) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one saying " << says;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
  }
}

TEST(Snapshots, RollbackBringsBackTheSnapshotAndIsRefusedWhileMounted) {
  engine::Engine engine(LabConfig("host-a"));
  const std::string name = UniqueName("snap-rb");
  engine.Create(name, {{"size", "128M"}});
  Cleanups cleanups;
  cleanups.Add([&] { ReleaseAndRemove(engine, name); });
  auto mount = engine.Mount(name, "c1");
  WriteRandomFile(mount.mount_path + "/data", 8);
  WriteFileAtomically(mount.mount_path + "/marker", "before\n");
  const std::string before = Sha256(mount.mount_path + "/data");
  engine.CreateSnapshot(name, "s1");  // frozen while mounted
  cleanups.Add([&] { RemoveSnapshotIfPresent(engine, name, "s1"); });

  // A failing snapshot (the name is taken) still thaws the filesystem: writes go on.
  ExpectCode([&] { engine.CreateSnapshot(name, "s1"); }, ErrorCode::kConflict, "already exists");
  WriteRandomFile(mount.mount_path + "/data", 8);
  WriteFileAtomically(mount.mount_path + "/marker", "after\n");
  const std::string after = Sha256(mount.mount_path + "/data");
  ASSERT_NE(before, after);
  ExpectCode([&] { engine.Rollback(name, "s1", nullptr); }, ErrorCode::kBusy,
             "attached on this host");
  EXPECT_EQ(Sha256(mount.mount_path + "/data"), after) << "a refused rollback changed data";
  engine.Unmount(name, "c1");

  // Another host holding it read-write refuses too.
  engine::Engine other(LabConfig("host-b"));
  other.Mount(name, "c2");
  ExpectCode([&] { engine.Rollback(name, "s1", nullptr); }, ErrorCode::kBusy, "host host-b");
  other.Unmount(name, "c2");

  uint64_t last_done = 0;
  uint64_t calls = 0;
  engine.Rollback(name, "s1", [&](uint64_t done, uint64_t total) {
    EXPECT_LE(done, total);
    last_done = done;
    ++calls;
  });
  EXPECT_GT(calls, 0u) << "no progress reported";
  EXPECT_GT(last_done, 0u);
  mount = engine.Mount(name, "c3");
  EXPECT_EQ(Sha256(mount.mount_path + "/data"), before);
  EXPECT_EQ(ReadFileIfExists(mount.mount_path + "/marker").value_or(""), "before\n");
  EXPECT_FALSE(mount.formatted);
  engine.Unmount(name, "c3");

  auto snaps = engine.ListSnapshots(name);
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].name, "s1");
  EXPECT_EQ(snaps[0].size, 128u << 20);
  EXPECT_GT(snaps[0].used_bytes, 8u << 20);
  EXPECT_GT(snaps[0].created, 1700000000);
}

TEST(Snapshots, LiveSnapshotUnderWritesIsCleanAndClonesAreIndependent) {
  engine::Engine engine(LabConfig("host-a"));
  const std::string name = UniqueName("snap-live");
  const std::string clone = name + "-clone";
  engine.Create(name, {{"size", "128M"}});
  Cleanups cleanups;
  cleanups.Add([&] { ReleaseAndRemove(engine, name); });
  auto mount = engine.Mount(name, "c1");

  // A writer that never stops appending and rewriting files while the snapshot is taken.
  const pid_t writer = SpawnDetached(
      {"sh", "-c",
       "i=0; while :; do i=$((i+1)); dd if=/dev/urandom of=\"$0/f$((i % 20))\" bs=64k count=4 "
       "status=none; echo $i >> \"$0/log\"; done",
       mount.mount_path},
      "/dev/null");
  cleanups.Add([writer, path = mount.mount_path] {
    StopDetached(writer, "sh", path, std::chrono::seconds(2));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  engine.CreateSnapshot(name, "live");
  cleanups.Add([&] { RemoveSnapshotIfPresent(engine, name, "live"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  StopDetached(writer, "sh", mount.mount_path, std::chrono::seconds(2));

  engine.Clone(name, "live", clone, /*flatten=*/false, nullptr);
  cleanups.Add([&] { ReleaseAndRemove(engine, clone); });
  EXPECT_EQ(engine.Get(clone).record.cloned_from, name + "@live");
  EXPECT_TRUE(engine.Get(clone).record.formatted());

  // The clone's filesystem checks clean (read-only check, before any mount or journal replay).
  engine::Engine checker(LabConfig("host-b"));
  const std::string device = checker.StageAttach(clone, /*read_only=*/true, "");
  auto fsck = RunCommand({"e2fsck", "-n", "-f", device}, std::chrono::minutes(2));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  ASSERT_TRUE(checker.Get(clone).local.has_value());
  const std::string check_dir = checker.config().state_dir + "/check";
  checker.StageMount(clone, check_dir, true);
  EXPECT_TRUE(PathExists(check_dir + "/log"));
  checker.Unstage(check_dir);

  // Independent: writes to either do not show in the other.
  auto cm = engine.Mount(clone, "c2");
  WriteFileAtomically(cm.mount_path + "/only-in-clone", "x");
  WriteFileAtomically(mount.mount_path + "/only-in-source", "y");
  EXPECT_FALSE(PathExists(mount.mount_path + "/only-in-clone"));
  EXPECT_FALSE(PathExists(cm.mount_path + "/only-in-source"));
  engine.Unmount(clone, "c2");

  // Flatten: the clone no longer needs the snapshot, which can then go.
  uint64_t calls = 0;
  engine.Clone(name, "live", clone, /*flatten=*/true, [&](uint64_t, uint64_t) { ++calls; });
  EXPECT_GT(calls, 0u);
  engine.RemoveSnapshot(name, "live");
  cm = engine.Mount(clone, "c3");
  EXPECT_TRUE(PathExists(cm.mount_path + "/only-in-clone"));
  engine.Unmount(clone, "c3");
  engine.Unmount(name, "c1");
}

TEST(Resize, GrowsMountedExt4AndXfsAndRefusesShrink) {
  for (const auto& [fstype, size] : {std::pair<std::string, std::string>{"ext4", "128M"},
                                     std::pair<std::string, std::string>{"xfs", "300M"}}) {
    SCOPED_TRACE(fstype);
    engine::Engine engine(LabConfig("host-a"));
    const std::string name = UniqueName("resize-" + fstype);
    engine.Create(name, {{"size", size}, {"fstype", fstype}});
    VolumeCleanup cleanup(engine, name);
    auto mount = engine.Mount(name, "c1");
    WriteRandomFile(mount.mount_path + "/data", 4);
    const std::string sum = Sha256(mount.mount_path + "/data");
    const uint64_t before = FilesystemBytes(mount.mount_path);
    const uint64_t old_size = engine.Get(name).record.spec.size_bytes;

    ExpectCode([&] { engine.Resize(name, old_size / 2); }, ErrorCode::kInvalidArgument,
               "never shrinks");
    EXPECT_EQ(engine.Get(name).record.spec.size_bytes, old_size);
    try {
      engine.Resize(name, old_size * 2);
    } catch (const Error& e) {
      // Only where the kernel refuses online ext4 resize: it grows at the next mount.
      ASSERT_EQ(fstype, "ext4") << e.what();
      EXPECT_NE(std::string(e.what()).find("CAP_SYS_RESOURCE"), std::string::npos) << e.what();
      engine.Unmount(name, "c1");
      mount = engine.Mount(name, "c1");
    }
    EXPECT_EQ(engine.Get(name).record.spec.size_bytes, old_size * 2);
    EXPECT_GT(FilesystemBytes(mount.mount_path), before + old_size * 3 / 4);
    EXPECT_EQ(Sha256(mount.mount_path + "/data"), sum);
  }
}

TEST(LockBreak, FencingStopsAFrozenHolderAndTheVolumeMovesWithItsData) {
  const engine::Config config_a = LabConfig("host-a");
  const std::string name = UniqueName("fence");
  std::string mount_path;
  pid_t mapper = 0;
  {
    engine::Engine a(config_a);
    a.Create(name, {{"size", "128M"}});
    mount_path = a.Mount(name, "c1").mount_path;
    WriteRandomFile(mount_path + "/data", 4);
    mapper = a.Get(name).local->attachment.backend.value("pid", 0);
  }
  ASSERT_GT(mapper, 0);
  const std::string sum = Sha256(mount_path + "/data");
  Cleanups cleanups;
  cleanups.Add([&] {
    // Host A's side: its mapper is fenced; a new engine (a new Ceph client) tears it down.
    ::kill(mapper, SIGKILL);
    engine::Engine a(config_a);
    a.Unmount(name, "c1");
    engine::Engine b(LabConfig("host-b"));
    ReleaseAndRemove(b, name);
  });

  ASSERT_EQ(::kill(mapper, SIGSTOP), 0);  // host A hangs with the lock held
  engine::Engine b(LabConfig("host-b"));
  ExpectCode([&] { b.Mount(name, "c2"); }, ErrorCode::kBusy, "host host-a");
  auto locks = b.Locks(name);
  ASSERT_EQ(locks.holders.size(), 1u);
  EXPECT_EQ(locks.holders[0].host_id, config_a.host_id);
  EXPECT_FALSE(locks.watchers.empty());

  auto broken = b.BreakLock(name, /*fence=*/true);
  ASSERT_EQ(broken.size(), 1u);
  EXPECT_TRUE(b.Locks(name).holders.empty());
  ASSERT_EQ(::kill(mapper, SIGCONT), 0);

  // Host A wakes up and writes: fenced, the write cannot reach the cluster.
  auto late = RunCommand({"dd", "if=/dev/urandom", "of=" + mount_path + "/late", "bs=1M", "count=2",
                          "conv=fsync", "status=none"},
                         std::chrono::minutes(2));
  EXPECT_NE(late.exit_code, 0) << "a fenced host could still write";

  auto mb = b.Mount(name, "c2");
  EXPECT_EQ(Sha256(mb.mount_path + "/data"), sum);
  EXPECT_FALSE(PathExists(mb.mount_path + "/late"));
  b.Unmount(name, "c2");
}

TEST(Snapshots, BadInputChangesNothing) {
  engine::Engine engine(LabConfig("host-a"));
  const std::string name = UniqueName("snap-bad");
  engine.Create(name, {{"size", "64M"}});
  VolumeCleanup cleanup(engine, name);
  ExpectCode([&] { engine.CreateSnapshot("no-such-volume", "s"); }, ErrorCode::kNotFound,
             "does not exist");
  for (const std::string& bad :
       std::vector<std::string>{"", "-x", "a b", "a@b", "../x", std::string(65, 'a')}) {
    ExpectCode([&] { engine.CreateSnapshot(name, bad); }, ErrorCode::kInvalidArgument,
               "snapshot name");
  }
  ExpectCode([&] { engine.Rollback(name, "missing", nullptr); }, ErrorCode::kNotFound,
             "does not exist");
  ExpectCode([&] { engine.Clone(name, "missing", name + "-c", false, nullptr); },
             ErrorCode::kNotFound, "does not exist");
  ExpectCode([&] { engine.Clone(name, "s", "../bad", false, nullptr); },
             ErrorCode::kInvalidArgument, "");
  EXPECT_TRUE(engine.ListSnapshots(name).empty());
  EXPECT_THROW(engine.Get(name + "-c"), Error);
}

TEST(NfsSnapshots, SnapshotRollbackAndCloneByCopy) {
  engine::Engine engine(LabConfig("host-a"));
  const std::string name = UniqueName("nfs-snap");
  const std::string clone = name + "-clone";
  engine.Create(name, {{"backend", "nfs"}, {"on_remove", "delete"}});
  Cleanups cleanups;
  cleanups.Add([&] { ReleaseAndRemove(engine, name); });
  auto mount = engine.Mount(name, "c1");
  MakeDirectories(mount.mount_path + "/sub", 0750);
  WriteRandomFile(mount.mount_path + "/sub/data", 3);
  WriteFileAtomically(mount.mount_path + "/marker", "before\n");
  ASSERT_EQ(::symlink("sub/data", (mount.mount_path + "/link").c_str()), 0);
  const std::string before = Sha256(mount.mount_path + "/sub/data");

  uint64_t last = 0;
  uint64_t total = 0;
  engine.CreateSnapshot(name, "s1", [&](uint64_t done, uint64_t all) {
    last = done;
    total = all;
  });
  cleanups.Add([&] { RemoveSnapshotIfPresent(engine, name, "s1"); });
  EXPECT_GE(total, 3u << 20);
  EXPECT_EQ(last, total);
  auto snaps = engine.ListSnapshots(name);
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].name, "s1");
  EXPECT_GE(snaps[0].used_bytes, 3u << 20);
  EXPECT_GT(snaps[0].created, 1700000000);

  WriteRandomFile(mount.mount_path + "/sub/data", 1);
  WriteFileAtomically(mount.mount_path + "/marker", "after\n");
  WriteFileAtomically(mount.mount_path + "/new-file", "x");
  ExpectCode([&] { engine.Rollback(name, "s1", nullptr); }, ErrorCode::kBusy,
             "attached on this host");
  EXPECT_EQ(ReadFileIfExists(mount.mount_path + "/marker").value_or(""), "after\n");
  engine.Unmount(name, "c1");
  // Mounted on another host: refused too, naming it (each host records its NFS mounts).
  {
    engine::Engine other(LabConfig("host-b"));
    other.Mount(name, "elsewhere");
    ExpectCode([&] { engine.Rollback(name, "s1", nullptr); }, ErrorCode::kBusy, "host host-b");
    other.Unmount(name, "elsewhere");
  }

  engine.Rollback(name, "s1", nullptr);
  mount = engine.Mount(name, "c2");
  EXPECT_EQ(Sha256(mount.mount_path + "/sub/data"), before);
  EXPECT_EQ(ReadFileIfExists(mount.mount_path + "/marker").value_or(""), "before\n");
  EXPECT_FALSE(PathExists(mount.mount_path + "/new-file"));
  EXPECT_EQ(Sha256(mount.mount_path + "/link"), before) << "the symlink was not kept";

  engine.Clone(name, "s1", clone, false, nullptr);
  cleanups.Add([&] { ReleaseAndRemove(engine, clone); });
  auto cm = engine.Mount(clone, "c3");
  EXPECT_EQ(Sha256(cm.mount_path + "/sub/data"), before);
  WriteFileAtomically(cm.mount_path + "/only-in-clone", "x");
  EXPECT_FALSE(PathExists(mount.mount_path + "/only-in-clone"));
  engine.Unmount(clone, "c3");
  engine.Unmount(name, "c2");
  ExpectCode([&] { engine.Remove(name); }, ErrorCode::kBusy, "has snapshots");
  EXPECT_NO_THROW(engine.Get(name)) << "a refused remove removed the volume";
  engine.RemoveSnapshot(name, "s1");
  EXPECT_TRUE(engine.ListSnapshots(name).empty());
}

}  // namespace
}  // namespace berth::testing
