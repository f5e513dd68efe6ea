#include "engine/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "common/error.h"
#include "engine/rbd/rbd_backend.h"
#include "tests/unit/expect_error.h"

namespace berth::engine {
namespace {

using ::berth::testing::ExpectError;
using ::testing::ElementsAre;
using ::testing::Key;

using ::berth::testing::kInvalid;

TEST(ParseConfig, ReadsEveryField) {
  const Config config = ParseConfig(R"({
    "host_id": "node-1",
    "state_dir": "/srv/berth",
    "mount_root": "/srv/berth/mnt",
    "socket": "/run/berth.sock",
    "log_level": "debug",
    "default_backend": "fast",
    "backends": {
      "fast": {"type": "rbd", "pool": "ssd", "user": "berth"},
      "shared": {"type": "nfs", "server": "10.0.0.1"}
    }
  })");
  EXPECT_EQ(config.host_id, "node-1");
  EXPECT_EQ(config.state_dir, "/srv/berth");
  EXPECT_EQ(config.mount_root, "/srv/berth/mnt");
  EXPECT_EQ(config.socket, "/run/berth.sock");
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_EQ(config.default_backend, "fast");
  EXPECT_THAT(config.backends, ElementsAre(Key("fast"), Key("shared")));
  const BackendConfig& fast = config.backends.at("fast");
  EXPECT_EQ(fast.name, "fast");
  EXPECT_EQ(fast.type, "rbd");
  EXPECT_EQ(fast.settings.at("pool"), "ssd");
  EXPECT_EQ(config.backends.at("shared").type, "nfs");
}

TEST(ParseConfig, PathsHaveDefaults) {
  const Config config = ParseConfig(R"({"host_id": "h", "backends": {"rbd": {"type": "rbd"}}})");
  EXPECT_EQ(config.state_dir, "/var/lib/berth");
  EXPECT_EQ(config.mount_root, "/var/lib/berth/mounts");
  EXPECT_EQ(config.socket, "/run/docker/plugins/berth.sock");
  EXPECT_EQ(config.log_level, "info");
}

TEST(ParseConfig, DefaultBackendIsInferredWhenThereIsOnlyOne) {
  const Config config = ParseConfig(R"({"host_id": "h", "backends": {"ceph": {"type": "rbd"}}})");
  EXPECT_EQ(config.default_backend, "ceph");
}

TEST(ParseConfig, DefaultBackendIsRequiredWithSeveral) {
  ExpectError(
      [] {
        ParseConfig(
            R"({"host_id": "h", "backends": {"a": {"type": "rbd"}, "b": {"type": "nfs"}}})");
      },
      kInvalid, {"default_backend"});
}

TEST(ParseConfig, BadDefaultBackendIsNamed) {
  ExpectError(
      [] {
        ParseConfig(
            R"({"host_id": "h", "default_backend": "nope", "backends": {"a": {"type": "rbd"}}})");
      },
      kInvalid, {"default_backend 'nope'"});
}

TEST(ParseConfig, UnknownTopLevelKeyIsNamed) {
  ExpectError(
      [] {
        ParseConfig(R"({"host_id": "h", "sockett": "/x", "backends": {"a": {"type": "rbd"}}})");
      },
      kInvalid, {"unknown key 'sockett'", "socket"});
}

TEST(ParseConfig, MissingBackendsIsRefused) {
  ExpectError([] { ParseConfig(R"({"host_id": "h"})"); }, kInvalid, {"\"backends\""});
  ExpectError([] { ParseConfig(R"({"host_id": "h", "backends": {}})"); }, kInvalid,
              {"\"backends\""});
  ExpectError([] { ParseConfig(R"({"host_id": "h", "backends": ["rbd"]})"); }, kInvalid,
              {"\"backends\""});
}

TEST(ParseConfig, BackendWithoutTypeIsNamed) {
  ExpectError([] { ParseConfig(R"({"host_id": "h", "backends": {"ceph": {"pool": "x"}}})"); },
              kInvalid, {"backend 'ceph'", "\"type\""});
  ExpectError([] { ParseConfig(R"({"host_id": "h", "backends": {"ceph": {"type": 3}}})"); },
              kInvalid, {"backend 'ceph'"});
  ExpectError([] { ParseConfig(R"({"host_id": "h", "backends": {"ceph": "rbd"}})"); }, kInvalid,
              {"backend 'ceph'"});
}

TEST(ParseConfig, InvalidJsonIsRefused) {
  ExpectError([] { ParseConfig(R"({"host_id": "h", )"); }, kInvalid, {"not valid JSON"});
  ExpectError([] { ParseConfig(""); }, kInvalid, {"not valid JSON"});
  ExpectError([] { ParseConfig("[1, 2]"); }, kInvalid, {"JSON object"});
}

TEST(ParseConfig, StringKeysMustBeStrings) {
  ExpectError(
      [] {
        ParseConfig(R"({"host_id": "h", "state_dir": 5, "backends": {"a": {"type": "rbd"}}})");
      },
      kInvalid, {"'state_dir'", "string"});
}

TEST(ParseConfig, BusyWaitIsBoundedInsideDockersTimeout) {
  EXPECT_EQ(
      ParseConfig(R"({"host_id": "h", "backends": {"a": {"type": "rbd"}}})").busy_wait_seconds, 45);
  EXPECT_EQ(
      ParseConfig(R"({"host_id": "h", "busy_wait_seconds": 5, "backends": {"a": {"type": "rbd"}}})")
          .busy_wait_seconds,
      5);
  for (const std::string bad : {"0", "111", "\"5\"", "1.5", "-1"}) {
    SCOPED_TRACE(bad);
    ExpectError(
        [&] {
          ParseConfig(R"({"host_id": "h", "busy_wait_seconds": )" + bad +
                      R"(, "backends": {"a": {"type": "rbd"}}})");
        },
        kInvalid, {"busy_wait_seconds", "1 to 110"});
  }
}

TEST(ParseConfig, LingerDefaultsToHalfAMinuteAndZeroTurnsItOff) {
  const std::string backends = R"("backends": {"a": {"type": "rbd"}})";
  EXPECT_EQ(ParseConfig(R"({"host_id": "h", )" + backends + "}").linger_seconds, 30);
  EXPECT_EQ(
      ParseConfig(R"({"host_id": "h", "linger_seconds": 0, )" + backends + "}").linger_seconds, 0);
  for (const std::string bad : {"-1", "3601", "\"30\"", "2.5", "null"}) {
    SCOPED_TRACE(bad);
    ExpectError(
        [&] {
          ParseConfig(R"({"host_id": "h", "linger_seconds": )" + bad + ", " + backends + "}");
        },
        kInvalid, {"linger_seconds", "0 to 3600", "0 turns it off"});
  }
}

TEST(ParseConfig, HostIdsNameFilesSoOnlySafeCharactersAreAllowed) {
  for (const std::string& good :
       std::vector<std::string>{"node-1", "a", "0123456789abcdef0123456789abcdef",
                                "worker_2.example.com", std::string(253, 'h')}) {
    SCOPED_TRACE(good);
    EXPECT_EQ(ParseConfig(R"({"host_id": ")" + good + R"(", "backends": {"a": {"type": "rbd"}}})")
                  .host_id,
              good);
  }
  for (const std::string& bad :
       std::vector<std::string>{"../volumes/db", "a/b", ".hidden", "two words", "tab\\t",
                                std::string(254, 'h'), "h\\u00e9"}) {
    SCOPED_TRACE(bad);
    ExpectError(
        [&] {
          ParseConfig(R"({"host_id": ")" + bad + R"(", "backends": {"a": {"type": "rbd"}}})");
        },
        kInvalid, {"host id", "letters, digits"});
  }
}

TEST(ParseConfig, HostIdFallsBackToMachineId) {
  const std::string text = R"({"backends": {"a": {"type": "rbd"}}})";
  std::optional<std::string> machine_id;
  try {
    machine_id = ParseConfig(text).host_id;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kInvalid);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("host_id"));
  }
  if (machine_id) {
    EXPECT_FALSE(machine_id->empty());
    EXPECT_EQ(machine_id->find('\n'), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// ResolveConfigPath

class ResolveConfigPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* saved = std::getenv("BERTH_CONFIG")) {
      saved_ = saved;
    }
  }
  void TearDown() override {
    if (saved_) {
      ::setenv("BERTH_CONFIG", saved_->c_str(), 1);
    } else {
      ::unsetenv("BERTH_CONFIG");
    }
  }

 private:
  std::optional<std::string> saved_;
};

TEST_F(ResolveConfigPathTest, FlagWinsOverEnvironment) {
  ::setenv("BERTH_CONFIG", "/env/berth.json", 1);
  EXPECT_EQ(ResolveConfigPath("/flag/berth.json"), "/flag/berth.json");
}

TEST_F(ResolveConfigPathTest, EnvironmentWinsOverDefault) {
  ::setenv("BERTH_CONFIG", "/env/berth.json", 1);
  EXPECT_EQ(ResolveConfigPath(""), "/env/berth.json");
}

TEST_F(ResolveConfigPathTest, DefaultWhenNeitherIsSet) {
  ::unsetenv("BERTH_CONFIG");
  EXPECT_EQ(ResolveConfigPath(""), "/etc/berth/berth.json");
  ::setenv("BERTH_CONFIG", "", 1);
  EXPECT_EQ(ResolveConfigPath(""), "/etc/berth/berth.json");
}

TEST(LoadConfig, MissingFileIsNotFoundAndNamesThePath) {
  ExpectError([] { LoadConfig("/nonexistent/berth-unit-test/berth.json"); }, ErrorCode::kNotFound,
              {"/nonexistent/berth-unit-test/berth.json", "--config", "BERTH_CONFIG"});
}

// ---------------------------------------------------------------------------------------------
// ParseRbdSettings

BackendConfig Rbd(nlohmann::json settings) {
  settings["type"] = "rbd";
  return {"ceph", "rbd", settings};
}

TEST(ParseRbdSettings, Defaults) {
  const RbdSettings settings = ParseRbdSettings(Rbd(nlohmann::json::object()));
  EXPECT_EQ(settings.conf, "/etc/ceph/ceph.conf");
  EXPECT_EQ(settings.user, "admin");
  EXPECT_EQ(settings.keyring, "");
  EXPECT_EQ(settings.pool, "rbd");
  EXPECT_EQ(settings.mapper, "auto");
  EXPECT_EQ(settings.op_timeout_seconds, 30);
  EXPECT_EQ(settings.registry_cache_seconds, 2);
}

TEST(ParseRbdSettings, ReadsEveryKey) {
  const RbdSettings settings = ParseRbdSettings(Rbd({{"conf", "/lab/ceph.conf"},
                                                     {"user", "berth"},
                                                     {"keyring", "/lab/keyring"},
                                                     {"pool", "volumes"},
                                                     {"mapper", "nbd"},
                                                     {"features", "layering"},
                                                     {"default_size", "10G"},
                                                     {"default_fstype", "xfs"},
                                                     {"op_timeout_seconds", 5},
                                                     {"registry_cache_seconds", 0}}));
  EXPECT_EQ(settings.conf, "/lab/ceph.conf");
  EXPECT_EQ(settings.user, "berth");
  EXPECT_EQ(settings.keyring, "/lab/keyring");
  EXPECT_EQ(settings.pool, "volumes");
  EXPECT_EQ(settings.mapper, "nbd");
  EXPECT_EQ(settings.op_timeout_seconds, 5);
  EXPECT_EQ(settings.registry_cache_seconds, 0);
}

TEST(ParseRbdSettings, UnknownKeyIsNamed) {
  ExpectError(
      [] {
        ParseRbdSettings(Rbd({{"usr", "berth"}}));
      },
      kInvalid, {"unknown key 'usr'", "'ceph'", "user"});
}

TEST(ParseRbdSettings, BadMapperIsNamed) {
  ExpectError([] { ParseRbdSettings(Rbd({{"mapper", "bogus"}})); }, kInvalid, {"'bogus'"});
  for (const std::string mapper : {"auto", "krbd", "nbd", "fuse"}) {
    EXPECT_EQ(ParseRbdSettings(Rbd({{"mapper", mapper}})).mapper, mapper);
  }
}

TEST(ParseRbdSettings, WrongValueTypesAreInvalidArguments) {
  ExpectError(
      [] {
        ParseRbdSettings(Rbd({{"op_timeout_seconds", "30"}}));
      },
      kInvalid, {"op_timeout_seconds"});
  ExpectError(
      [] {
        ParseRbdSettings(Rbd({{"op_timeout_seconds", 0}}));
      },
      kInvalid, {"op_timeout_seconds"});
  ExpectError(
      [] {
        ParseRbdSettings(Rbd({{"registry_cache_seconds", 61}}));
      },
      kInvalid, {"registry_cache_seconds", "from 0 (off) to 60"});
  ExpectError(
      [] {
        ParseRbdSettings(Rbd({{"registry_cache_seconds", -1}}));
      },
      kInvalid, {"registry_cache_seconds"});
  ExpectError([] { ParseRbdSettings(Rbd({{"user", 7}})); }, kInvalid, {"'user'"});
  ExpectError([] { ParseRbdSettings(Rbd({{"default_size", 10}})); }, kInvalid, {"'default_size'"});
}

}  // namespace
}  // namespace berth::engine
