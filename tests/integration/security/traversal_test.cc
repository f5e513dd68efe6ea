// No path traversal (issue 7): hostile volume names, Docker mount IDs and kubelet paths are
// refused or harmless, and a symlink planted where berth mounts never redirects a mount or an
// unmount outside the mount root. A directory `outside` stands in for /etc.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "common/error.h"
#include "common/files.h"
#include "engine/engine.h"
#include "fsutil/mount.h"
#include "tests/integration/engine/lab.h"
#include "tests/integration/flex/kubelet.h"
#include "tests/integration/security/security.h"
#include "tests/support/berthd_process.h"
#include "tests/support/plugin_client.h"

namespace berth::testing {
namespace {

// Every path under `dir` named `name`, symlinks not followed. Other tests work in the lab at the
// same time: an entry that vanishes during the walk is skipped, not an error (a recursive
// directory iterator threw "No such file or directory" in a suite run).
std::vector<std::string> FindNamed(const std::filesystem::path& dir, const std::string& name) {
  std::vector<std::string> found;
  std::error_code ec;
  for (std::filesystem::directory_iterator
           it(dir, std::filesystem::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (it->path().filename() == name) {
      found.push_back(it->path().string());
    }
    std::error_code type_ec;
    if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) {
      for (auto& path : FindNamed(it->path(), name)) {
        found.push_back(std::move(path));
      }
    }
  }
  return found;
}

class TraversalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = LabDir() + "/tests/" + UniqueName("traversal");
    config_path_ = WriteBerthdConfig(base_, "traversal-host");
    config_ = engine::LoadConfig(config_path_);
    outside_ = base_ + "/outside";
    MakeDirectories(outside_, 0755);
    WriteFileAtomically(outside_ + "/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644);
    outside_before_ = TreeSnapshot(outside_);
  }

  void TearDown() override {
    if (IsMounted(outside_)) {
      fsutil::Unmount(outside_);
    }
  }

  BerthdProcess& Berthd() {
    if (!berthd_) {
      berthd_ = std::make_unique<BerthdProcess>(BERTH_BERTHD_PATH, config_path_,
                                                base_ + "/berthd.sock", base_ + "/berthd.log");
    }
    return *berthd_;
  }

  // Nothing in `outside` changed and nothing is mounted on it.
  void ExpectOutsideUntouched() {
    EXPECT_EQ(TreeSnapshot(outside_), outside_before_);
    EXPECT_EQ(ReadFileIfExists(outside_ + "/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    EXPECT_FALSE(IsMounted(outside_));
  }

  std::string MountPath(const std::string& name) const { return config_.mount_root + "/" + name; }

  std::string base_;
  std::string config_path_;
  engine::Config config_;
  std::string outside_;
  std::set<std::string> outside_before_;
  std::unique_ptr<BerthdProcess> berthd_;
};

TEST_F(TraversalTest, HostileVolumeNamesAreRefusedAndChangeNothing) {
  PluginClient client(Berthd().socket());
  const std::set<std::string> before = TreeSnapshot(base_ + "/state");
  const std::set<std::string> mount_root_before = TreeSnapshot(config_.mount_root);
  const std::vector<std::string> names = {"../x",
                                          "a/../../b",
                                          "/etc",
                                          "..",
                                          ".",
                                          "x/..",
                                          "../../../../../../etc/passwd",
                                          "../outside",
                                          std::string("a\0b", 3),
                                          std::string("\0", 1),
                                          std::string(129, 'a'),
                                          std::string(100000, 'a')};
  for (const std::string endpoint : {"Create", "Mount", "Unmount", "Path", "Get", "Remove"}) {
    for (const auto& name : names) {
      SCOPED_TRACE(endpoint + " of a name of " + std::to_string(name.size()) +
                   " bytes: " + name.substr(0, 40));
      nlohmann::json body = {{"Name", name}};
      if (endpoint == std::string("Mount") || endpoint == std::string("Unmount")) {
        body["ID"] = "id";
      }
      auto reply = client.Call("VolumeDriver." + std::string(endpoint), body.dump());
      EXPECT_EQ(reply.status, 200) << reply.body;
      EXPECT_NE(reply.Err().find("names are 1-128 characters of letters, digits"),
                std::string::npos)
          << reply.body;
    }
    // A raw NUL inside the JSON string is not JSON at all.
    auto raw = client.Call("VolumeDriver." + std::string(endpoint),
                           std::string(R"({"Name":"a)") + '\0' + R"(b","ID":"id"})");
    EXPECT_EQ(raw.status, 400) << raw.body;
    EXPECT_FALSE(raw.Err().empty()) << raw.body;
  }
  const auto listed = client.CallOk("VolumeDriver.List", "{}")["Volumes"];
  EXPECT_TRUE(listed.empty()) << listed.dump();
  EXPECT_EQ(TreeSnapshot(base_ + "/state"), before) << "no state, lock or work file was made";
  EXPECT_EQ(TreeSnapshot(config_.mount_root), mount_root_before);
  EXPECT_FALSE(PathExists(base_ + "/x"));
  EXPECT_FALSE(PathExists(base_ + "/b"));
  ExpectOutsideUntouched();
}

// Docker's mount IDs are only reference keys: IDs that look like paths mount and unmount the
// volume like any other and create nothing anywhere.
TEST_F(TraversalTest, DockerMountIdsThatLookLikePathsAreOnlyKeys) {
  PluginClient client(Berthd().socket());
  const std::string name = UniqueName("ids");
  client.CallOk("VolumeDriver.Create",
                nlohmann::json{{"Name", name}, {"Opts", {{"size", "64M"}}}}.dump());
  const std::string escape = "escape-" + std::to_string(::getpid());
  const std::vector<std::string> ids = {"../../../../" + escape, "/" + escape, "..", "../outside",
                                        std::string(64, 'f') + "/../" + escape};
  Defer cleanup([&] { CleanUpVolume(Berthd().socket(), config_path_, name, ids); });
  for (const auto& id : ids) {
    auto reply =
        client.CallOk("VolumeDriver.Mount", nlohmann::json{{"Name", name}, {"ID", id}}.dump());
    EXPECT_EQ(reply.value("Mountpoint", ""), MountPath(name)) << id;
  }
  EXPECT_TRUE(IsMounted(MountPath(name)));
  for (const auto& id : ids) {
    client.CallOk("VolumeDriver.Unmount", nlohmann::json{{"Name", name}, {"ID", id}}.dump());
  }
  EXPECT_FALSE(IsMounted(MountPath(name))) << "the last of the IDs unmounted it";
  for (const auto& path : FindNamed(LabDir(), escape)) {
    ADD_FAILURE() << "a file named after a mount ID: " << path;
  }
  EXPECT_FALSE(PathExists("/" + escape));
  ExpectOutsideUntouched();
}

// The Docker path: a symlink planted at <mount_root>/<volume> is refused with a clear error and
// nothing is mounted through it; once it is gone, the volume mounts.
TEST_F(TraversalTest, SymlinkAtTheMountPathIsRefusedThroughDocker) {
  PluginClient client(Berthd().socket());
  const std::string name = UniqueName("planted");
  client.CallOk("VolumeDriver.Create",
                nlohmann::json{{"Name", name}, {"Opts", {{"size", "64M"}}}}.dump());
  Defer cleanup([&] { CleanUpVolume(Berthd().socket(), config_path_, name, {"a"}); });
  std::filesystem::create_symlink(outside_, MountPath(name));
  const std::string body = nlohmann::json{{"Name", name}, {"ID", "a"}}.dump();
  auto refused = client.Call("VolumeDriver.Mount", body);
  EXPECT_EQ(refused.status, 200);
  EXPECT_NE(refused.Err().find(MountPath(name) + " is a symbolic link or not a directory"),
            std::string::npos)
      << refused.body;
  ExpectOutsideUntouched();
  EXPECT_TRUE(std::filesystem::is_symlink(MountPath(name))) << "left for the admin to inspect";
  auto get = client.CallOk("VolumeDriver.Get", NameBody(name));
  EXPECT_FALSE(get["Volume"].contains("Mountpoint")) << get.dump();
  EXPECT_FALSE(get["Volume"]["Status"].contains("attached_here")) << get.dump();
  EXPECT_TRUE(LoopsUnder(base_).empty()) << "the device was released";

  ASSERT_EQ(::unlink(MountPath(name).c_str()), 0);
  EXPECT_EQ(client.CallOk("VolumeDriver.Mount", body).value("Mountpoint", ""), MountPath(name));
  EXPECT_TRUE(IsMounted(MountPath(name)));
  ExpectOutsideUntouched();
}

// The same for NFS, whose backend mounts at the mount path itself, and for the per-volume work
// dir in the state dir (rbd-fuse mounts there).
TEST_F(TraversalTest, SymlinkAtTheMountPathOrWorkDirIsRefusedByTheEngine) {
  engine::Engine engine(config_);
  struct Case {
    std::string backend;
    std::string planted;  // relative to the volume's name
  };
  for (const auto& [backend, where] : std::vector<Case>{{"nfs", "mount"}, {"rbd", "work"}}) {
    SCOPED_TRACE(backend + " " + where);
    const std::string name = UniqueName("planted-" + backend);
    engine.Create(name, {{"backend", backend}, {"size", "64M"}});
    VolumeCleanup cleanup(engine, name);
    const std::string link =
        where == "mount" ? MountPath(name) : config_.state_dir + "/attach/" + name;
    MakeDirectories(std::filesystem::path(link).parent_path().string(), 0700);
    std::filesystem::create_symlink(outside_, link);
    try {
      engine.Mount(name, "a");
      ADD_FAILURE() << "mounted through a symlink";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kConflict) << e.what();
      EXPECT_NE(std::string(e.what()).find(link + " is a symbolic link"), std::string::npos)
          << e.what();
    }
    ExpectOutsideUntouched();
    EXPECT_FALSE(engine.Get(name).local.has_value()) << "no attachment recorded";
    EXPECT_TRUE(engine.Get(name).holders.empty()) << "no lock left behind";
    ASSERT_EQ(::unlink(link.c_str()), 0);
    EXPECT_EQ(engine.Mount(name, "a").mount_path, MountPath(name));
    EXPECT_TRUE(IsMounted(MountPath(name)));
  }
}

// A volume whose mount vanished (a reboot, a hand unmount) while its state stayed, and a symlink
// planted in place of its mount directory, pointing at a mounted filesystem: the cleanup before
// the next mount must not follow it and unmount that filesystem, and the mount is refused.
TEST_F(TraversalTest, StaleMountReplacedBySymlinkIsNotFollowed) {
  engine::Engine engine(config_);
  const std::string name = UniqueName("stale");
  engine.Create(name, {{"size", "64M"}});
  VolumeCleanup cleanup(engine, name);
  ASSERT_EQ(engine.Mount(name, "a").mount_path, MountPath(name));
  fsutil::Unmount(MountPath(name));
  ASSERT_EQ(::rmdir(MountPath(name).c_str()), 0);
  ASSERT_EQ(::mount("tmpfs", outside_.c_str(), "tmpfs", 0, "size=1m,mode=0755"), 0);
  Defer unmount_outside([&] { fsutil::Unmount(outside_); });
  WriteFileAtomically(outside_ + "/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644);
  std::filesystem::create_symlink(outside_, MountPath(name));

  try {
    engine.Mount(name, "b");
    ADD_FAILURE() << "mounted through a symlink";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict) << e.what();
    EXPECT_NE(std::string(e.what()).find("symbolic link"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(IsMounted(outside_)) << "the cleanup unmounted the filesystem the symlink named";
  EXPECT_EQ(ReadFileIfExists(outside_ + "/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  EXPECT_TRUE(engine.Get(name).holders.empty()) << "the stale attachment was released";
  ASSERT_EQ(::unlink(MountPath(name).c_str()), 0);
}

// berth-flex: kubelet paths with '.' or '..' components and hostile volume names fail clearly.
TEST_F(TraversalTest, FlexRefusesDotDotPathsAndNames) {
  Node node("traversal-node");
  const std::string pv = "pv-" + UniqueName("flex");
  const std::string options = Options({{"kubernetes.io/fsType", "ext4"},
                                       {"kubernetes.io/readwrite", "rw"},
                                       {"kubernetes.io/pvOrVolumeName", pv},
                                       {"size", "64Mi"},
                                       {"create", "true"}});
  const std::string escape = node.PodDir("pod-1", pv) + "/../../../../../../outside";
  MakeDirectories(node.PodDir("pod-1", pv), 0750);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"mount", escape, options},
                                             {"unmount", escape},
                                             {"mountdevice", escape, "berth:" + pv, options},
                                             {"unmountdevice", node.DeviceMountPath(pv) + "/.."}}) {
    SCOPED_TRACE(args.front());
    auto reply = node.Rbd(args);
    EXPECT_EQ(reply.status(), "Failure");
    EXPECT_NE(reply.message().find("without '.' or '..' components"), std::string::npos)
        << reply.message();
  }
  for (const std::string name : {"../x", "a/../../b", "/etc", ".."}) {
    auto reply = node.Rbd({"attach", Options({{"volume", name}, {"create", "true"}}), "node"});
    EXPECT_EQ(reply.status(), "Failure") << name;
    EXPECT_NE(reply.message().find("names are 1-128 characters"), std::string::npos)
        << reply.message();
  }
  try {
    engine::Engine(node.config()).Get(pv);
    ADD_FAILURE() << "volume " << pv << " was made";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
  }
  EXPECT_FALSE(PathExists(node.base() + "/outside"));
  EXPECT_FALSE(IsMounted(node.base() + "/outside"));
  EXPECT_TRUE(LoopsUnder(node.base()).empty());
  ExpectOutsideUntouched();
}

}  // namespace
}  // namespace berth::testing
