// berthctl run as an operator runs it, against the lab: every command's --json output parses,
// exit codes follow the error categories, and bad input changes nothing.
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <functional>

#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

class BerthctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = LabConfig("host-cli");
    auto doc = nlohmann::json::parse(*ReadFileIfExists(LabDir() + "/berth.json"));
    doc["host_id"] = config_.host_id;
    doc["state_dir"] = config_.state_dir;
    doc["mount_root"] = config_.mount_root;
    config_path_ = config_.state_dir + "/../berth.json";
    WriteFileAtomically(config_path_, doc.dump());
  }

  CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {BERTH_BERTHCTL_PATH, "--config", config_path_});
    return RunCommand(args, std::chrono::minutes(5));
  }

  // Runs with --json: exit 0 and one JSON document on stdout.
  nlohmann::json Json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    auto result = Run(args);
    EXPECT_EQ(result.exit_code, 0) << JoinCommand(args) << ": " << result.err;
    try {
      return nlohmann::json::parse(result.out);
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << JoinCommand(args) << " printed no JSON: " << result.out;
      return {};
    }
  }

  engine::Config config_;
  std::string config_path_;
};

TEST_F(BerthctlTest, EveryCommandSpeaksJson) {
  const std::string name = UniqueName("cli");
  const std::string clone = name + "-c";
  engine::Engine engine(config_);
  EXPECT_EQ(Json({"volume", "create", name, "-o", "size=64M"})["name"], name);
  VolumeCleanup cleanup(engine, name);

  auto listed = Json({"volume", "ls"});
  ASSERT_TRUE(listed.is_array());
  bool found = false;
  for (const auto& v : listed) {
    found = found || v.value("Name", v.value("name", "")) == name;
  }
  EXPECT_TRUE(found) << listed.dump();
  EXPECT_TRUE(Json({"volume", "inspect", name}).is_object());
  EXPECT_EQ(Json({"volume", "resize", name, "128M"})["size_bytes"], 128u << 20);
  EXPECT_EQ(engine.Get(name).record.spec.size_bytes, 128u << 20);
  const std::string mountpoint = Json({"volume", "mount", name, "--ref", "cli"})["mountpoint"];
  EXPECT_TRUE(IsMounted(mountpoint));
  auto locks = Json({"lock", "ls", name});
  ASSERT_EQ(locks["holders"].size(), 1u);
  EXPECT_EQ(locks["holders"][0]["host_id"], config_.host_id);
  EXPECT_TRUE(Json({"volume", "unmount", name, "--ref", "cli"})["unmounted"]);

  EXPECT_TRUE(Json({"snapshot", "create", name + "@s1"})["created"]);
  auto snaps = Json({"snapshot", "ls", name});
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0]["name"], "s1");
  EXPECT_EQ(snaps[0]["size_bytes"], 128u << 20);
  EXPECT_TRUE(snaps[0].contains("used_bytes"));
  EXPECT_TRUE(snaps[0].contains("created"));
  EXPECT_EQ(snaps[0]["protected"], false);

  auto rolled = Run({"--json", "snapshot", "rollback", name + "@s1", "--yes"});
  EXPECT_EQ(rolled.exit_code, 0) << rolled.err;
  EXPECT_TRUE(nlohmann::json::parse(rolled.out)["rolled_back"]);
  EXPECT_NE(rolled.err.find("rollback " + name + "@s1: 100%"), std::string::npos)
      << "no progress lines: " << rolled.err;

  EXPECT_EQ(Json({"snapshot", "clone", name + "@s1", clone, "--flatten"})["volume"], clone);
  struct RemoveIfLeft {
    engine::Engine& engine;
    std::string name;
    ~RemoveIfLeft() {
      try {
        engine.Get(name);
      } catch (const std::exception&) {
        return;  // removed by the test, as it should be
      }
      ReleaseAndRemove(engine, name);
    }
  } clone_cleanup{engine, clone};
  EXPECT_EQ(Json({"snapshot", "ls", name})[0]["protected"], true);
  EXPECT_TRUE(Json({"volume", "rm", clone})["removed"]);
  EXPECT_TRUE(Json({"snapshot", "rm", name + "@s1"})["removed"]);
  EXPECT_TRUE(Json({"snapshot", "ls", name}).empty());

  // Another host holds the volume: lock ls names it, lock break (unfenced here, since the
  // holder's client is this test process's own) breaks it.
  const auto holder_config = LabConfig("host-holder");
  engine::Engine holder(holder_config);
  holder.Mount(name, "held");
  auto held = Json({"lock", "ls", name});
  ASSERT_EQ(held["holders"].size(), 1u);
  EXPECT_EQ(held["holders"][0]["host_id"], holder_config.host_id);
  EXPECT_FALSE(held["watchers"].empty());
  auto broken = Json({"lock", "break", name, "--yes"});
  EXPECT_EQ(broken["broken"][0]["host_id"], holder_config.host_id);
  EXPECT_EQ(broken["fenced"], false);
  EXPECT_TRUE(Json({"lock", "ls", name})["holders"].empty());
  holder.Unmount(name, "held");

  auto health = Json({"health"});
  EXPECT_EQ(health["problems"], 0) << health.dump();
  EXPECT_FALSE(health["checks"].empty());

  auto completion = Run({"completion", "bash"});
  EXPECT_EQ(completion.exit_code, 0);
  EXPECT_NE(completion.out.find("complete -F _berthctl berthctl"), std::string::npos);
}

TEST_F(BerthctlTest, BadInputGivesTheRightExitCodeAndChangesNothing) {
  const std::string name = UniqueName("cli-bad");
  engine::Engine engine(config_);
  engine.Create(name, {{"size", "64M"}});
  VolumeCleanup cleanup(engine, name);
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"volume", "inspect", "no-such-volume"}, 3, "does not exist"},
      {{"snapshot", "create", "no-such-volume@s"}, 3, "does not exist"},
      {{"snapshot", "create", name + "@bad name"}, 2, "snapshot name"},
      {{"snapshot", "create", name}, 2, "VOLUME@SNAPSHOT"},
      {{"snapshot", "rollback", name + "@missing", "--yes"}, 3, "does not exist"},
      {{"volume", "resize", name, "12XB"}, 2, "size"},
      {{"volume", "resize", name, "32M"}, 2, "never shrinks"},
      {{"volume", "create", "../etc", "-o", "size=1G"}, 2, "volume name"},
      {{"volume", "create", name + "-x", "-o", "colour=red"}, 2, "unknown option"},
      {{"lock", "break", name, "--fence", "--yes"}, 3, "not locked"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(JoinCommand(c.args));
    auto result = Run(c.args);
    EXPECT_EQ(result.exit_code, c.exit_code) << result.err;
    EXPECT_NE(result.err.find(c.says), std::string::npos) << result.err;
    auto json_args = c.args;
    json_args.insert(json_args.begin(), "--json");
    auto json = Run(json_args);
    EXPECT_EQ(json.exit_code, c.exit_code);
    EXPECT_NO_THROW(nlohmann::json::parse(json.out).at("error")) << json.out;
  }
  // A rollback without a terminal and without --yes is refused before anything happens.
  engine.CreateSnapshot(name, "keep");
  auto unconfirmed = Run({"snapshot", "rollback", name + "@keep"});
  EXPECT_EQ(unconfirmed.exit_code, 2);
  EXPECT_NE(unconfirmed.err.find("--yes"), std::string::npos) << unconfirmed.err;
  engine.RemoveSnapshot(name, "keep");

  EXPECT_EQ(engine.Get(name).record.spec.size_bytes, 64u << 20);
  EXPECT_THROW(engine.Get(name + "-x"), std::exception);
  EXPECT_TRUE(engine.ListSnapshots(name).empty());
  // Every command documents itself.
  for (const std::vector<std::string>& help : {std::vector<std::string>{"--help"},
                                               {"volume", "--help"},
                                               {"snapshot", "rollback", "--help"},
                                               {"lock", "break", "--help"}}) {
    auto result = Run(help);
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << result.out;
  }
}

TEST_F(BerthctlTest, GlobalOptionsWorkAnywhereAndABadCommandLineExitsTwo) {
  // --json and --config after the subcommand, as the README promises ("add --json anywhere").
  auto listed =
      RunCommand({BERTH_BERTHCTL_PATH, "volume", "ls", "--json", "--config", config_path_},
                 std::chrono::minutes(2));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(nlohmann::json::parse(listed.out).is_array()) << listed.out;
  EXPECT_EQ(Run({"volume", "ls", "--json"}).exit_code, 0);

  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"volume", "ls", "--no-such-flag"}, "--no-such-flag"},
      {{"no-such-command"}, "unknown command 'no-such-command'; berthctl's commands: volume"},
      {{"volume", "bogus"}, "unknown command 'bogus'; berthctl volume's commands: "},
      {{"volume", "create"}, "name"},
      {{"snapshot", "create", "a@b", "extra-argument"}, "extra-argument"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(JoinCommand(c.args));
    auto result = Run(c.args);
    EXPECT_EQ(result.exit_code, 2) << result.err;  // invalid argument, not CLI11's own codes
    EXPECT_NE(result.err.find(c.says), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("--help"), std::string::npos) << result.err;
    auto json_args = c.args;
    json_args.push_back("--json");
    auto json = Run(json_args);
    EXPECT_EQ(json.exit_code, 2) << json.err;
    try {
      auto doc = nlohmann::json::parse(json.out);
      EXPECT_EQ(doc.at("category"), "invalid argument");
      EXPECT_NE(doc.at("error").get<std::string>().find(c.says), std::string::npos) << json.out;
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << "no JSON error: " << json.out << " (" << e.what() << ")";
    }
  }
}

// A Ceph user without the caps berth needs is a refusal, reported as one: it never passes for a
// backend that is down, whose volumes a listing quietly leaves out.
TEST_F(BerthctlTest, ACephUserWithoutCapsIsReportedAsPermissionDeniedNotHidden) {
  const std::string user = "berth-nocaps-" + std::to_string(::getpid());
  const std::string conf = LabDir() + "/ceph.conf";
  const std::string admin_keyring = LabDir() + "/keyrings/client.admin.keyring";
  const std::string keyring = config_.state_dir + "/../nocaps.keyring";
  auto as_admin = [conf, admin_keyring](std::vector<std::string> args) {
    std::vector<std::string> argv = {"ceph",  "-c",        conf,         "--id",
                                     "admin", "--keyring", admin_keyring};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, std::chrono::minutes(1));
  };
  // Monitor access only: it connects, and every read of the pool is refused (EPERM).
  auto made =
      as_admin({"auth", "get-or-create", "client." + user, "mon", "profile rbd", "-o", keyring});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  struct RemoveUser {
    std::function<void()> step;
    ~RemoveUser() { step(); }
  } remove_user{[as_admin, user] { as_admin({"auth", "rm", "client." + user}); }};

  auto doc = nlohmann::json::parse(*ReadFileIfExists(config_path_));
  doc["backends"]["rbd"]["user"] = user;
  doc["backends"]["rbd"]["keyring"] = keyring;
  const std::string nocaps_path = config_.state_dir + "/../nocaps.json";
  WriteFileAtomically(nocaps_path, doc.dump());

  auto listed = RunCommand({BERTH_BERTHCTL_PATH, "--config", nocaps_path, "volume", "ls"},
                           std::chrono::minutes(2));
  EXPECT_EQ(listed.exit_code, 8) << listed.out << listed.err;  // permission denied
  EXPECT_NE(listed.err.find("backend rbd refused"), std::string::npos) << listed.err;
  EXPECT_NE(listed.err.find("caps"), std::string::npos) << listed.err;
  auto json = RunCommand(
      {BERTH_BERTHCTL_PATH, "--config", nocaps_path, "volume", "inspect", "anything", "--json"},
      std::chrono::minutes(2));
  EXPECT_EQ(json.exit_code, 8) << json.out << json.err;
  EXPECT_NO_THROW(EXPECT_EQ(nlohmann::json::parse(json.out).at("category"), "permission denied"))
      << json.out;
}

}  // namespace
}  // namespace berth::testing
