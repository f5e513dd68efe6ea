// Issue 14, through Docker's front door (berthd's socket, as dockerd calls it): a careless or
// hostile user's names and options never change a volume silently, never make it writable
// when it is read-only, never let two volumes share an NFS directory, and never let a volume
// carry set-user-ID binaries or device files onto the host. berthd's paths with a symlink in
// them never make a live mount look gone.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/files.h"
#include "engine/engine.h"
#include "fsutil/mountinfo.h"
#include "tests/integration/engine/lab.h"
#include "tests/integration/security/security.h"
#include "tests/support/berthd_process.h"
#include "tests/support/plugin_client.h"

namespace berth::testing {
namespace {

using nlohmann::json;

class NamesAndOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = LabDir() + "/tests/" + UniqueName("names");
    config_path_ = WriteBerthdConfig(base_, UniqueName("names-host"));
  }

  void TearDown() override {
    for (auto it = volumes_.rbegin(); it != volumes_.rend(); ++it) {
      CleanUpVolume(berthd_ ? berthd_->socket() : "", config_path_, it->first, it->second);
    }
    berthd_.reset();
  }

  PluginClient& Client() {
    if (!berthd_) {
      berthd_ = std::make_unique<BerthdProcess>(BERTH_BERTHD_PATH, config_path_,
                                                base_ + "/berthd.sock", base_ + "/berthd.log");
      client_ = std::make_unique<PluginClient>(berthd_->socket());
    }
    return *client_;
  }

  // VolumeDriver.Create as dockerd sends it for `docker volume create -o ...`.
  PluginReply Create(const std::string& name, const json& options) {
    auto reply =
        Client().Call("VolumeDriver.Create", json{{"Name", name}, {"Opts", options}}.dump());
    if (reply.Ok() && std::none_of(volumes_.begin(), volumes_.end(),
                                   [&](const auto& v) { return v.first == name; })) {
      volumes_.push_back({name, {}});
    }
    return reply;
  }

  std::string Mount(const std::string& name, const std::string& id) {
    for (auto& [volume, ids] : volumes_) {
      if (volume == name) {
        ids.push_back(id);
      }
    }
    return Client()
        .CallOk("VolumeDriver.Mount", json{{"Name", name}, {"ID", id}}.dump())
        .value("Mountpoint", "");
  }

  void Unmount(const std::string& name, const std::string& id) {
    Client().CallOk("VolumeDriver.Unmount", json{{"Name", name}, {"ID", id}}.dump());
    for (auto& [volume, ids] : volumes_) {
      if (volume == name) {
        ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
      }
    }
  }

  // Whether berthd knows the volume: Get answers a missing one with no Volume and no Err.
  bool Registered(const std::string& name) {
    return Client().CallOk("VolumeDriver.Get", NameBody(name)).contains("Volume");
  }

  // The registry's spec of `name`, read by an engine of the same config.
  engine::VolumeSpec SpecOf(const std::string& name) {
    return engine::Engine(engine::LoadConfig(config_path_)).Get(name).record.spec;
  }

  std::string base_;
  std::string config_path_;
  std::unique_ptr<BerthdProcess> berthd_;
  std::unique_ptr<PluginClient> client_;
  std::vector<std::pair<std::string, std::vector<std::string>>> volumes_;
};

fsutil::MountEntry MountAt(const std::string& path) {
  auto entry = fsutil::FindMount(fsutil::ReadMountInfo(), path);
  EXPECT_TRUE(entry.has_value()) << "nothing mounted at " << path;
  return entry.value_or(fsutil::MountEntry{});
}

// Whether the comma-separated per-mount `options` hold `option`.
bool HasOption(const std::string& options, const std::string& option) {
  return ("," + options + ",").find("," + option + ",") != std::string::npos;
}

// Hole 5: re-creating with other options used to "succeed" for subdir, uid, gid, mode and
// on_remove; on_remove=retain against a `delete` volume then let rm delete the data.
TEST_F(NamesAndOptionsTest, ARepeatedCreateWithOtherOptionsIsAConflictNamingTheField) {
  const std::string name = UniqueName("respec");
  const json created = {{"backend", "nfs"}, {"on_remove", "delete"}, {"uid", "999"},
                        {"gid", "999"},     {"mode", "0750"},        {"subdir", name + "/data"}};
  ASSERT_TRUE(Create(name, created).Ok());
  struct Case {
    std::string key, value, message;
  };
  const std::vector<Case> cases = {
      {"on_remove", "retain", "on_remove is delete, not retain"},
      {"uid", "0", "uid is 999, not 0"},
      {"gid", "0", "gid is 999, not 0"},
      {"mode", "0777", "mode is 0750, not 0777"},
      {"subdir", name + "/other", "subdir is " + name + "/data, not " + name + "/other"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key);
    json options = created;
    options[c.key] = c.value;
    const auto reply = Create(name, options);
    EXPECT_FALSE(reply.Ok()) << "a re-create with " << c.key << "=" << c.value << " succeeded";
    EXPECT_NE(reply.Err().find("already exists with a different spec"), std::string::npos)
        << reply.body;
    EXPECT_NE(reply.Err().find(c.message), std::string::npos) << reply.body;
  }
  const auto spec = SpecOf(name);
  EXPECT_EQ(spec.on_remove, "delete");
  EXPECT_EQ(spec.uid, 999);
  EXPECT_EQ(spec.mode, 0750);
  EXPECT_EQ(spec.subdir, name + "/data");
  // The same options, in another spelling of the same directory, are the same volume.
  json same = created;
  same["subdir"] = "./" + name + "//data/";
  EXPECT_TRUE(Create(name, same).Ok()) << "an identical re-create is idempotent";
}

// Hole 6 and 10: read-only wins over a user's "rw", and every volume is nodev and, unless
// created with suid=true, nosuid; on RBD and on NFS alike.
TEST_F(NamesAndOptionsTest, ReadOnlyWinsAndVolumesAreNosuidNodev) {
  const auto expect_read_only = [](const std::string& path) {
    const auto entry = MountAt(path);
    EXPECT_TRUE(HasOption(entry.options, "ro")) << entry.options;
    const int fd = ::open((path + "/written").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    const int err = errno;
    EXPECT_EQ(fd, -1) << "a read-only mount was writable with mount_options=rw";
    EXPECT_EQ(err, EROFS);
    if (fd >= 0) {
      ::close(fd);
    }
  };
  for (const std::string backend : {"rbd", "nfs"}) {
    SCOPED_TRACE(backend);
    const std::string name = UniqueName("rw-" + backend);
    json options = {{"backend", backend}, {"mount_options", "rw"}};
    if (backend == "rbd") {
      options["size"] = "64M";
    } else {
      options["read_only"] = "true";  // an NFS directory needs no first read-write mount
    }
    ASSERT_TRUE(Create(name, options).Ok());
    const std::string path = Mount(name, "c1");
    const auto entry = MountAt(path);
    EXPECT_TRUE(HasOption(entry.options, "nosuid")) << entry.options;
    EXPECT_TRUE(HasOption(entry.options, "nodev")) << entry.options;
    if (backend == "nfs") {
      expect_read_only(path);
    }
    Unmount(name, "c1");
    if (backend == "rbd") {
      // Formatted now; a read-only attach (kubelet's readwrite=ro) with mount_options=rw.
      engine::Engine engine(engine::LoadConfig(config_path_));
      const std::string ro_path = engine.Mount(name, "ro-1", /*read_only=*/true).mount_path;
      expect_read_only(ro_path);
      engine.Unmount(name, "ro-1");
    }

    const std::string suid_name = UniqueName("suid-" + backend);
    json suid_options = {{"backend", backend}, {"suid", "true"}};
    if (backend == "rbd") {
      suid_options["size"] = "64M";
    }
    ASSERT_TRUE(Create(suid_name, suid_options).Ok());
    const std::string suid_path = Mount(suid_name, "suid-1");
    const auto suid_entry = MountAt(suid_path);
    EXPECT_FALSE(HasOption(suid_entry.options, "nosuid")) << suid_entry.options;
    EXPECT_TRUE(HasOption(suid_entry.options, "nodev")) << suid_entry.options;
    Unmount(suid_name, "suid-1");
  }
  // What berth sets itself cannot be asked for per volume.
  for (const auto& [option, words] :
       std::vector<std::pair<std::string, std::string>>{{"suid", "suid=true"},
                                                        {"dev", "nodev"},
                                                        {"vers=4", "set by berth"},
                                                        {"addr=10.9.9.9", "set by berth"}}) {
    SCOPED_TRACE(option);
    const std::string name = UniqueName("opt");
    const auto reply = Create(name, {{"backend", "nfs"}, {"mount_options", option}});
    EXPECT_FALSE(reply.Ok());
    EXPECT_NE(reply.Err().find(words), std::string::npos) << reply.body;
    EXPECT_FALSE(Registered(name)) << "registered anyway";
  }
}

// Hole 2: an NFS subdir that is another volume's directory, inside it or holding it, in any
// spelling, is refused at create; removing a volume that a host has mounted is refused, so
// on_remove=delete never deletes data in use.
TEST_F(NamesAndOptionsTest, NfsVolumesNeverShareOrNestDirectories) {
  const std::string stem = UniqueName("ovl");
  const std::string owner = stem + "-owner";
  ASSERT_TRUE(
      Create(owner, {{"backend", "nfs"}, {"subdir", stem + "/data"}, {"on_remove", "delete"}})
          .Ok());
  const std::string path = Mount(owner, "owner-1");
  WriteFileAtomically(path + "/precious", "the owner's data\n", 0644);

  std::string upper = stem;
  for (auto& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  const std::vector<std::pair<std::string, std::string>> overlapping = {
      {stem + "/data", "is the directory of volume " + owner},
      {"./" + stem + "//data/", "is the directory of volume " + owner},
      {upper + "/DATA", "is the directory of volume " + owner},
      {stem + "/data/inner", "is inside the directory of volume " + owner},
      {stem, "holds the directory of volume " + owner},
  };
  int n = 0;
  for (const auto& [subdir, words] : overlapping) {
    SCOPED_TRACE(subdir);
    const std::string name = stem + "-alias-" + std::to_string(n++);
    const auto reply =
        Create(name, {{"backend", "nfs"}, {"subdir", subdir}, {"on_remove", "delete"}});
    EXPECT_FALSE(reply.Ok()) << "a second volume on the directory of " << owner;
    EXPECT_NE(reply.Err().find(words), std::string::npos) << reply.body;
    EXPECT_FALSE(Registered(name)) << "registered anyway";
  }

  // Another host removes the volume while this one has it mounted: refused, naming the host.
  auto other_config = engine::LoadConfig(config_path_);
  other_config.host_id = UniqueName("names-other");
  other_config.state_dir = base_ + "/other/state";
  other_config.mount_root = base_ + "/other/mnt";
  engine::Engine other(other_config);
  try {
    other.Remove(owner);
    ADD_FAILURE() << "removed a volume that another host has mounted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBusy) << e.what();
    EXPECT_NE(std::string(e.what()).find(engine::LoadConfig(config_path_).host_id),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(ReadFileIfExists(path + "/precious"), "the owner's data\n");
  Unmount(owner, "owner-1");
  // Unmounted everywhere (berthd clears its record just after replying): on_remove=delete may
  // now delete.
  for (int attempt = 0;; ++attempt) {
    try {
      other.Remove(owner);
      break;
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), ErrorCode::kBusy) << e.what();
      ASSERT_LT(attempt, 100) << e.what();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_FALSE(Registered(owner));
}

// Hole 10: a symlink in mount_root or state_dir used to make a live mount look gone, and the
// second Mount then tore down the mount the first container was using.
TEST_F(NamesAndOptionsTest, SymlinkedMountRootAndStateDirKeepLiveMounts) {
  MakeDirectories(base_ + "/real/mnt", 0700);
  MakeDirectories(base_ + "/real/state", 0700);
  ASSERT_EQ(::symlink((base_ + "/real/mnt").c_str(), (base_ + "/mnt-link").c_str()), 0);
  ASSERT_EQ(::symlink((base_ + "/real/state").c_str(), (base_ + "/state-link").c_str()), 0);
  auto doc = json::parse(ReadFileIfExists(config_path_).value());
  doc["mount_root"] = base_ + "/mnt-link";
  doc["state_dir"] = base_ + "/state-link";
  WriteFileAtomically(config_path_, doc.dump());

  const std::string name = UniqueName("link");
  ASSERT_TRUE(Create(name, {{"size", "64M"}}).Ok());
  const std::string first = Mount(name, "container-1");
  EXPECT_EQ(first, RealPath(base_ + "/real/mnt") + "/" + name) << "a real path, as mountinfo";
  WriteFileAtomically(first + "/in-use", "written by container 1\n");
  const auto before = MountAt(first);
  const std::string second = Mount(name, "container-2");
  EXPECT_EQ(second, first);
  const auto after = MountAt(first);
  EXPECT_EQ(after.id, before.id) << "the first container's mount was replaced";
  EXPECT_EQ(ReadFileIfExists(first + "/in-use"), "written by container 1\n");
  Unmount(name, "container-1");
  EXPECT_TRUE(IsMounted(first)) << "one reference is left";
  Unmount(name, "container-2");
  EXPECT_FALSE(IsMounted(first));
}

}  // namespace
}  // namespace berth::testing
