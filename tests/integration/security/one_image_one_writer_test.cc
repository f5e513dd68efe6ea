// Issue 14, hole 1: one RBD image is one volume with one writer, whatever the names. A second
// volume naming a volume's image is refused at create (and, for one an older berth registered,
// at attach); two installations claiming one host id are refused with the way to fix it; and
// no refused attempt breaks the first volume's lock or touches its data.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"
#include "tests/integration/security/security.h"
#include "tests/support/berthd_process.h"
#include "tests/support/plugin_client.h"

namespace berth::testing {
namespace {

using nlohmann::json;

// The first volume's lock is held by `host_id` alone, and its data is what was written.
void ExpectFirstVolumeIntact(engine::Engine& engine, const std::string& name,
                             const std::string& host_id, const std::string& file,
                             const std::string& content) {
  const auto locks = engine.Locks(name);
  ASSERT_EQ(locks.holders.size(), 1u) << "the first volume's lock was broken or doubled";
  EXPECT_EQ(locks.holders[0].host_id, host_id);
  EXPECT_EQ(ReadFileIfExists(file), content);
}

TEST(OneImageOneWriter, AVolumeOnAnotherVolumesImageIsRefused) {
  const std::string base = LabDir() + "/tests/" + UniqueName("alias");
  const std::string config_path = WriteBerthdConfig(base, "alias-host");
  const auto config = engine::LoadConfig(config_path);
  BerthdProcess berthd(BERTH_BERTHD_PATH, config_path, base + "/berthd.sock", base + "/berthd.log");
  PluginClient client(berthd.socket());
  const std::string first = UniqueName("first");
  const std::string alias = UniqueName("alias");
  Defer cleanup([&] {
    CleanUpVolume(berthd.socket(), config_path, alias, {"alias-1"});
    CleanUpVolume(berthd.socket(), config_path, first, {"first-1"});
  });

  client.CallOk("VolumeDriver.Create", json{{"Name", first}, {"Opts", {{"size", "64M"}}}}.dump());
  const std::string path =
      client.CallOk("VolumeDriver.Mount", json{{"Name", first}, {"ID", "first-1"}}.dump())
          .value("Mountpoint", "");
  WriteFileAtomically(path + "/precious", "first volume's data\n");
  engine::Engine observer(LabConfig("observer"));

  // `docker volume create -o image=<first's image> alias`: refused, naming the owner.
  const auto reply = client.Call("VolumeDriver.Create",
                                 json{{"Name", alias}, {"Opts", {{"image", first}}}}.dump());
  EXPECT_FALSE(reply.Ok()) << "a second volume adopted a mounted volume's image";
  EXPECT_NE(reply.Err().find("belongs to volume"), std::string::npos) << reply.body;
  EXPECT_NE(reply.Err().find(first), std::string::npos) << reply.body;
  // Get answers a volume it does not know with no Volume (and no Err).
  EXPECT_FALSE(client.CallOk("VolumeDriver.Get", NameBody(alias)).contains("Volume"))
      << "registered anyway";
  ExpectFirstVolumeIntact(observer, first, config.host_id, path + "/precious",
                          "first volume's data\n");

  // The same alias registered by an older berth, before image claims: its attach is refused
  // (the first volume claimed its image when it attached), and nothing of the first changes.
  auto legacy = observer.Get(first).record;
  legacy.spec.name = alias;
  legacy.spec.adopted = true;
  ASSERT_TRUE(observer.BackendFor(legacy.spec.backend).RegisterNew(legacy));
  const auto mount =
      client.Call("VolumeDriver.Mount", json{{"Name", alias}, {"ID", "alias-1"}}.dump());
  EXPECT_FALSE(mount.Ok()) << "the alias was mounted beside the first volume";
  EXPECT_NE(mount.Err().find("belongs to volume"), std::string::npos) << mount.body;
  ExpectFirstVolumeIntact(observer, first, config.host_id, path + "/precious",
                          "first volume's data\n");
  EXPECT_FALSE(observer.Get(alias).local.has_value());

  // While the first volume is attached, the alias cannot even be removed (its image is in use).
  EXPECT_FALSE(client.Call("VolumeDriver.Remove", NameBody(alias)).Ok());
  ExpectFirstVolumeIntact(observer, first, config.host_id, path + "/precious",
                          "first volume's data\n");
  // Once it is not, removing the alias keeps the image (adopted) and the first volume's claim.
  client.CallOk("VolumeDriver.Unmount", json{{"Name", first}, {"ID", "first-1"}}.dump());
  for (int i = 0; i < 100 && !observer.Locks(first).holders.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // berthd detaches after replying
  }
  client.CallOk("VolumeDriver.Remove", NameBody(alias));
  const auto images = LabCluster().Images();
  EXPECT_NE(std::find(images.begin(), images.end(), first), images.end()) << "image deleted";
  const auto again = client.Call("VolumeDriver.Create",
                                 json{{"Name", alias}, {"Opts", {{"image", first}}}}.dump());
  EXPECT_FALSE(again.Ok()) << "the first volume's claim went with the alias";
}

TEST(OneImageOneWriter, TwoInstallationsWithOneHostIdAreRefused) {
  const auto config = LabConfig("twin");
  auto twin_config = config;  // a cloned /etc/machine-id: same host id, its own state dir
  twin_config.state_dir += "-twin";
  twin_config.mount_root += "-twin";
  engine::Engine engine(config);
  const std::string name = UniqueName("twin");
  engine.Create(name, {{"size", "64M"}});
  VolumeCleanup cleanup(engine, name);
  const std::string path = engine.Mount(name, "c1").mount_path;
  WriteFileAtomically(path + "/precious", "the first installation's data\n");

  engine::Engine twin(twin_config);
  try {
    twin.Mount(name, "c2");
    ADD_FAILURE() << "a second installation with the same host id attached the volume";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict) << e.what();
    const std::string message = e.what();
    EXPECT_NE(message.find("belongs to another berth installation"), std::string::npos) << message;
    EXPECT_NE(message.find("berthctl host forget " + config.host_id), std::string::npos) << message;
  }
  EXPECT_FALSE(twin.Get(name).local.has_value()) << "the refused attach left state";
  ExpectFirstVolumeIntact(engine, name, config.host_id, path + "/precious",
                          "the first installation's data\n");

  // The operator says the other installation is gone (it is not: the test checks that the
  // lock still tells the two apart). berthctl, as the runbook runs it.
  auto doc = json::parse(ReadFileIfExists(LabDir() + "/berth.json").value());
  doc["host_id"] = twin_config.host_id;
  doc["state_dir"] = twin_config.state_dir;
  doc["mount_root"] = twin_config.mount_root;
  const std::string twin_path = twin_config.state_dir + "/../twin.json";
  WriteFileAtomically(twin_path, doc.dump());
  const auto forgot = RunCommand(
      {BERTH_BERTHCTL_PATH, "--config", twin_path, "host", "forget", config.host_id, "--yes"},
      std::chrono::minutes(2));
  EXPECT_EQ(forgot.exit_code, 0) << forgot.err;

  engine::Engine twin_after(twin_config);
  try {
    twin_after.Mount(name, "c2");
    ADD_FAILURE() << "the twin attached a volume the first installation holds";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict) << e.what();
    EXPECT_NE(std::string(e.what()).find("another berth installation that uses this host id"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(twin_after.Get(name).local.has_value());
  ExpectFirstVolumeIntact(engine, name, config.host_id, path + "/precious",
                          "the first installation's data\n");

  // Once the first installation lets go, the twin (now the host's installation) may attach.
  engine.Unmount(name, "c1");
  const auto mounted = twin_after.Mount(name, "c3");
  EXPECT_FALSE(mounted.formatted);
  EXPECT_EQ(ReadFileIfExists(mounted.mount_path + "/precious"), "the first installation's data\n");
  twin_after.Unmount(name, "c3");
}

// The same twins on an NFS export: each host's mount records guard Remove and Rollback, and two
// installations with one host id would share (and clear) each other's records.
TEST(OneImageOneWriter, TwoInstallationsWithOneHostIdAreRefusedOnNfsToo) {
  const auto config = LabConfig("twin-nfs");
  auto twin_config = config;
  twin_config.state_dir += "-twin";
  twin_config.mount_root += "-twin";
  engine::Engine engine(config);
  const std::string name = UniqueName("twin-nfs");
  engine.Create(name, {{"backend", "nfs"}, {"on_remove", "delete"}});
  VolumeCleanup cleanup(engine, name);
  const std::string path = engine.Mount(name, "c1").mount_path;
  WriteFileAtomically(path + "/precious", "the first installation's data\n");

  engine::Engine twin(twin_config);
  try {
    twin.Mount(name, "c2");
    ADD_FAILURE() << "a second installation with the same host id mounted the NFS volume";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict) << e.what();
    const std::string message = e.what();
    EXPECT_NE(message.find("belongs to another berth installation on this NFS export"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("berthctl host forget " + config.host_id), std::string::npos) << message;
  }
  EXPECT_FALSE(twin.Get(name).local.has_value()) << "the refused mount left state";
  EXPECT_EQ(ReadFileIfExists(path + "/precious"), "the first installation's data\n");
  // The first installation's mount record still guards the volume.
  try {
    engine.Remove(name);
    ADD_FAILURE() << "a mounted NFS volume was removed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBusy) << e.what();
  }

  // Once the old installation is gone for good, `host forget` lets the new one mount.
  engine.Unmount(name, "c1");
  twin.ForgetHost(config.host_id);
  engine::Engine twin_after(twin_config);
  const auto mounted = twin_after.Mount(name, "c3");
  EXPECT_EQ(ReadFileIfExists(mounted.mount_path + "/precious"), "the first installation's data\n");
  twin_after.Unmount(name, "c3");
  twin_after.ForgetHost(config.host_id);  // the export keeps no registration of a test host
}

}  // namespace
}  // namespace berth::testing
