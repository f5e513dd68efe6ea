// `berthd --check-config` against berthd's own start, on the lab's config: a config that berthd
// refuses at start, --check-config refuses too, with the same message, and neither writes
// anything; the lab's config passes both. The table covers every key (top level, metrics, each
// backend type): the keys are read from berthd's own "allowed:" lists, so a key added without a
// row here fails the test. The package's postinst restarts berthd on upgrade only when
// --check-config passes, so a gap between the two is a host left without its plugin.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "tests/integration/engine/lab.h"
#include "tests/support/berthd_process.h"

namespace berth::testing {
namespace {

using nlohmann::json;

struct Row {
  std::string covers;   // the key this row is about, as a JSON pointer ("/backends/rbd/pool")
  std::string set;      // where the bad value goes (usually `covers`)
  json value;           // the bad value
  std::string message;  // what both --check-config and the start must say
};

Row Key(const std::string& pointer, json value, std::string message) {
  return {pointer, pointer, std::move(value), std::move(message)};
}

// The lab's config names its backends "rbd" and "nfs" (scripts/lab).
std::vector<Row> Rows() {
  const std::string defaults = "a volume with its defaults would be refused: ";
  return {
      Key("/host_id", ".hidden", "host id '.hidden' is not valid"),
      Key("/host_id", 7, "config key 'host_id' must be a string"),
      Key("/state_dir", "var/lib/berth", "config key 'state_dir' must be an absolute path"),
      Key("/mount_root", "mnt", "config key 'mount_root' must be an absolute path"),
      Key("/socket", "berth.sock", "config key 'socket' must be an absolute path"),
      Key("/default_backend", "tape", "default_backend 'tape' is not one of the backends"),
      Key("/log_level", "verbose", "config key 'log_level': unknown log level 'verbose'"),
      Key("/busy_wait_seconds", 0, "\"busy_wait_seconds\" must be a whole number of seconds"),
      Key("/busy_wait_seconds", 111, "\"busy_wait_seconds\" must be a whole number of seconds"),
      Key("/linger_seconds", -1, "\"linger_seconds\" must be a whole number of seconds"),
      Key("/linger_seconds", 3601, "\"linger_seconds\" must be a whole number of seconds"),
      Key("/metrics", "on", "config key 'metrics' must be an object"),
      Key("/metrics", json::object(), "the metrics config needs \"listen\""),
      {"/metrics/listen", "/metrics", {{"listen", "0.0.0.0:9464"}}, "is not a loopback address"},
      {"/metrics/socket", "/metrics", {{"socket", "metrics.sock"}}, "must be an absolute path"},
      {"/metrics/allow_remote",
       "/metrics",
       {{"listen", "127.0.0.1:9464"}, {"allow_remote", "yes"}},
       "'allow_remote' in the metrics config must be true or false"},
      Key("/backends", json::object(), "config needs \"backends\""),
      {"/backends", "/backends/..", {{"type", "nfs"}}, "backend name '..' is not valid"},
      Key("/backends/rbd/type", "zfs", "backend 'rbd' has unknown type 'zfs'"),
      Key("/backends/rbd/conf", "ceph.conf", "conf must be an absolute path"),
      Key("/backends/rbd/user", "client.berth", "user is the Ceph id without \"client.\""),
      Key("/backends/rbd/keyring", "keyring", "keyring must be an absolute path"),
      Key("/backends/rbd/pool", "", defaults + "pool must be 1-128 characters"),
      Key("/backends/rbd/pool", "a/b", defaults + "pool 'a/b' may only contain"),
      Key("/backends/rbd/mapper", "floppy", "unknown mapper 'floppy'"),
      Key("/backends/rbd/features", "warp-drive", defaults),
      Key("/backends/rbd/default_size", "10Q", defaults),
      Key("/backends/rbd/default_fstype", "zfs", defaults + "fstype 'zfs' is not supported"),
      Key("/backends/rbd/op_timeout_seconds", 0, "'op_timeout_seconds' in rbd backend 'rbd' must"),
      Key("/backends/rbd/takeover", "yes", "'takeover' in rbd backend 'rbd' must be true or false"),
      Key("/backends/rbd/takeover_grace_seconds", 0, "'takeover_grace_seconds' in rbd backend"),
      Key("/backends/rbd/fence_seconds", 5, "'fence_seconds' in rbd backend 'rbd' must"),
      Key("/backends/rbd/registry_cache_seconds", 61,
          "'registry_cache_seconds' in rbd backend 'rbd' must be a number of seconds from 0"),
      Key("/backends/nfs/type", "tape", "backend 'nfs' has unknown type 'tape'"),
      Key("/backends/nfs/server", "", "server is empty"),
      Key("/backends/nfs/server", 10, "needs \"server\" and well-typed settings"),
      Key("/backends/nfs/export", "exports/berth", "export must be an absolute path"),
      Key("/backends/nfs/nfs_port", 0, "nfs_port must be a port from 1 to 65535"),
      Key("/backends/nfs/nfs_port", "2049", "needs \"server\" and well-typed settings"),
      Key("/backends/nfs/mount_port", 70000, "mount_port must be a port"),
      Key("/backends/nfs/version", 2, "version must be 3 or 4"),
      Key("/backends/nfs/mounter", "floppy", "floppy"),
      Key("/backends/nfs/on_remove", "shred", defaults + "on_remove 'shred' is not one of"),
      Key("/backends/nfs/mount_options", "addr=10.0.0.1", "setting mount_options"),
      Key("/backends/nfs/timeout_ms", 5, "timeout_ms must be 100-110000"),
      Key("/backends/nfs/registry_cache_seconds", -1,
          "registry_cache_seconds must be a number of seconds from 0 (off) to 60"),
      Key("/backends/nfs/default_size", "huge", defaults),
  };
}

// A fresh directory with the lab's config for a host of its own (state, mounts and socket under
// it); none of those exist until a berthd makes them.
class CheckConfig : public ::testing::Test {
 protected:
  CheckConfig()
      : base_(LabDir() + "/check-config/" + ProcessToken() + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name()) {
    path_ = WriteBerthdConfig(base_, "check-config");
    config_ = json::parse(ReadFileIfExists(path_).value_or("{}"));
  }

  // Writes `config` and runs `berthd ARGS --config FILE`.
  CommandResult Berthd(const json& config, std::vector<std::string> args) {
    const std::string path = base_ + "/row.json";
    WriteFileAtomically(path, config.dump(2));
    args.insert(args.begin(), BERTH_BERTHD_PATH);
    args.insert(args.end(), {"--config", path});
    return RunCommand(args, std::chrono::seconds(30));
  }

  // Neither a check nor a refused start leaves anything behind.
  void ExpectNothingWritten(const json& config) {
    for (const char* key : {"/state_dir", "/mount_root", "/socket"}) {
      const auto pointer = json::json_pointer(key);
      if (config.contains(pointer) && config[pointer].is_string()) {
        const std::string path = config[pointer].get<std::string>();
        EXPECT_FALSE(path.starts_with('/') && PathExists(path)) << key << " " << path;
      }
    }
  }

  std::string base_;
  std::string path_;  // the lab's config for this host, as written
  json config_;
};

std::set<std::string> AllowedKeys(const std::string& error) {
  const auto at = error.find("allowed: ");
  std::set<std::string> keys;
  if (at == std::string::npos) {
    return keys;
  }
  for (const auto& key : Split(Trim(error.substr(at + 9)), ',')) {
    keys.insert(Trim(key));
  }
  return keys;
}

TEST_F(CheckConfig, TheLabsConfigPassesBothAndBerthdServes) {
  auto check = Berthd(config_, {"--check-config"});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find(": valid; host_id "), std::string::npos) << check.out;
  ExpectNothingWritten(config_);
  BerthdProcess berthd(BERTH_BERTHD_PATH, path_, base_ + "/berthd.sock",
                       base_ + "/berthd.log");  // throws unless it serves
  EXPECT_TRUE(berthd.Stop());
}

// A host id from the docs is valid, but a berth.json copied to every host would share it.
TEST_F(CheckConfig, TheDocsExampleHostIdIsValidButWarnedAbout) {
  json config = config_;
  config["host_id"] = "node-1";
  auto check = Berthd(config, {"--check-config"});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.err.find("warning: host_id \"node-1\" is an example from berth's docs"),
            std::string::npos)
      << check.err;
  check = Berthd(config_, {"--check-config"});
  EXPECT_EQ(check.err.find("warning"), std::string::npos) << check.err;
}

// Every config berthd refuses at start, --check-config refuses, with the same words.
TEST_F(CheckConfig, EveryKeyThatBerthdRefusesAtStartIsRefusedByTheCheck) {
  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.set + " = " + row.value.dump());
    json config = config_;
    config[json::json_pointer(row.set)] = row.value;
    const auto check = Berthd(config, {"--check-config"});
    EXPECT_EQ(check.exit_code, 2) << check.out << check.err;
    EXPECT_NE(check.err.find(row.message), std::string::npos) << check.err;
    ExpectNothingWritten(config);

    const auto start = Berthd(config, {"--socket", base_ + "/refused.sock"});
    EXPECT_EQ(start.exit_code, 1) << "berthd started with a config the check refuses: "
                                  << start.err;
    EXPECT_NE(start.err.find(row.message), std::string::npos) << start.err;
    EXPECT_FALSE(PathExists(base_ + "/refused.sock"));
    ExpectNothingWritten(config);
  }
}

// The table names every key berthd knows: each scope's keys come from berthd's own error for an
// unknown key, so a key added later without a row here fails.
TEST_F(CheckConfig, TheTableCoversEveryKey) {
  std::set<std::string> covered;
  for (const Row& row : Rows()) {
    covered.insert(row.covers);
  }
  struct Scope {
    std::string pointer;  // where the probe key goes
    json extra;           // what else the scope needs to be read at all
  };
  const std::vector<Scope> scopes = {
      {"", json::object()},
      {"/metrics", {{"socket", base_ + "/metrics.sock"}}},
      {"/backends/rbd", json::object()},
      {"/backends/nfs", json::object()},
  };
  for (const Scope& scope : scopes) {
    json config = config_;
    for (const auto& [key, value] : scope.extra.items()) {
      config[json::json_pointer(scope.pointer + "/" + key)] = value;
    }
    config[json::json_pointer(scope.pointer + "/zz_not_a_key")] = 1;
    const auto check = Berthd(config, {"--check-config"});
    EXPECT_EQ(check.exit_code, 2) << check.err;
    const auto keys = AllowedKeys(check.err);
    EXPECT_GE(keys.size(), 3u) << "no allowed keys named for '" << scope.pointer
                               << "': " << check.err;
    for (const auto& key : keys) {
      EXPECT_TRUE(covered.contains(scope.pointer + "/" + key))
          << "no row in Rows() for the key " << scope.pointer << "/" << key;
    }
  }
}

}  // namespace
}  // namespace berth::testing
