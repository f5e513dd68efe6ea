// The socket and the state are root-only, and the mount root is writable by its owner alone,
// whatever umask berthd is started with (issue 7).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "common/error.h"
#include "common/files.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"
#include "tests/integration/security/security.h"
#include "tests/support/berthd_process.h"
#include "tests/support/plugin_client.h"

namespace berth::testing {
namespace {

std::string Octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

TEST(Permissions, SocketAndStateAreRootOnlyUnderUmask000) {
  const std::string base = LabDir() + "/tests/" + UniqueName("perm");
  const std::string config_path = WriteBerthdConfig(base, "perm-host");
  const auto config = engine::LoadConfig(config_path);
  const std::string socket = base + "/run/berthd.sock";
  std::unique_ptr<BerthdProcess> berthd;
  {
    ScopedUmask permissive(0);
    berthd = std::make_unique<BerthdProcess>(BERTH_BERTHD_PATH, config_path, socket,
                                             base + "/berthd.log");
  }
  const std::string name = UniqueName("perm");
  const std::string body = nlohmann::json{{"Name", name}, {"ID", "perm-test"}}.dump();
  PluginClient client(socket);
  client.CallOk("VolumeDriver.Create",
                nlohmann::json{{"Name", name}, {"Opts", {{"size", "64M"}}}}.dump());
  Defer cleanup([&] { CleanUpVolume(socket, config_path, name, {"perm-test"}); });
  std::string mountpoint;
  try {
    mountpoint = client.CallOk("VolumeDriver.Mount", body).value("Mountpoint", "");
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }

  struct stat st {};
  ASSERT_EQ(::lstat(socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(Octal(st.st_mode), "0600") << "the plugin socket";

  const std::string state = config.state_dir;
  for (const std::string& dir : {state, state + "/volumes", state + "/locks", state + "/attach",
                                 state + "/attach/" + name}) {
    EXPECT_EQ(Octal(ModeOf(dir)), "0700") << dir;
  }
  for (const std::string& file :
       {state + "/volumes/" + name + ".json", state + "/locks/" + name + ".lock"}) {
    ASSERT_TRUE(S_ISREG(ModeOf(file))) << file;
    EXPECT_EQ(ModeOf(file) & 0077, 0u) << file << " is " << Octal(ModeOf(file));
  }
  // Every file berthd and its helpers made in the state dir (logs, state, locks).
  for (const auto& entry : TreeSnapshot(state)) {
    const std::string path = entry.substr(0, entry.find(" type="));
    if (S_ISREG(ModeOf(path)) && !IsMounted(std::filesystem::path(path).parent_path())) {
      EXPECT_EQ(ModeOf(path) & 0077, 0u) << path << " is " << Octal(ModeOf(path));
    }
  }
  EXPECT_EQ(Octal(ModeOf(config.mount_root)), "0700") << "the mount root: only root walks in";
  EXPECT_EQ(mountpoint, config.mount_root + "/" + name);
  EXPECT_TRUE(IsMounted(mountpoint));

  client.CallOk("VolumeDriver.Unmount", body);
  // The directory the volume was mounted on: not writable by others either.
  EXPECT_EQ(Octal(ModeOf(config.mount_root + "/" + name)), "0755");
}

// A state dir, volumes dir or locks dir that an older berth, or an admin, made more open is
// tightened when an engine starts.
TEST(Permissions, OpenStateDirsAreTightened) {
  const auto config = LabConfig("perm-tighten");
  for (const std::string& dir :
       {config.state_dir, config.state_dir + "/volumes", config.state_dir + "/locks"}) {
    MakeDirectories(dir, 0777);
    ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  }
  engine::Engine engine(config);
  engine.Unmount(UniqueName("never-mounted"), "id");  // takes the volume lock: nothing to do
  for (const std::string& dir :
       {config.state_dir, config.state_dir + "/volumes", config.state_dir + "/locks"}) {
    EXPECT_EQ(Octal(ModeOf(dir)), "0700") << dir;
  }
}

// A mount root that an older berth or an admin made open is made 0700 when an engine starts.
TEST(Permissions, OpenMountRootIsTightenedAtStart) {
  const auto config = LabConfig("perm-root-start");
  MakeDirectories(config.mount_root, 0755);
  ASSERT_EQ(::chmod(config.mount_root.c_str(), 0777), 0);
  engine::Engine engine(config);
  EXPECT_EQ(Octal(ModeOf(config.mount_root)), "0700");
}

// A mount root that others can write to lets anyone plant a symlink where a volume will be
// mounted: when it is opened up while berth runs, berth refuses to mount there, clearly, and
// mounts once it is fixed.
TEST(Permissions, MountRootWritableByOthersIsRefused) {
  const auto config = LabConfig("perm-root");
  engine::Engine engine(config);
  ASSERT_EQ(::chmod(config.mount_root.c_str(), 0777), 0);
  const std::string name = UniqueName("perm-root");
  engine.Create(name, {{"size", "64M"}});
  VolumeCleanup cleanup(engine, name);
  try {
    engine.Mount(name, "a");
    ADD_FAILURE() << "mounted below a world-writable mount root";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict) << e.what();
    EXPECT_NE(std::string(e.what()).find("writable by group or others (mode 0777)"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(config.mount_root), std::string::npos) << e.what();
  }
  EXPECT_FALSE(engine.Get(name).local.has_value()) << "nothing attached";
  EXPECT_TRUE(engine.Get(name).holders.empty()) << "no lock left behind";
  EXPECT_FALSE(PathExists(config.mount_root + "/" + name));

  ASSERT_EQ(::chmod(config.mount_root.c_str(), 0755), 0);
  EXPECT_EQ(engine.Mount(name, "a").mount_path, config.mount_root + "/" + name);
  EXPECT_TRUE(IsMounted(config.mount_root + "/" + name));
}

}  // namespace
}  // namespace berth::testing
