// Inputs the fuzz targets (tests/fuzz) found escaping as something other than berth::Error;
// each is in tests/fuzz/regressions/ too.
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "engine/config.h"
#include "engine/volume_spec.h"
#include "tests/unit/expect_error.h"

namespace berth::engine {
namespace {

using ::berth::testing::ExpectError;

using ::berth::testing::kInvalid;

// nlohmann::json throws out_of_range, not parse_error, for a number no double holds.
TEST(FuzzRegressions, ConfigNumberTooLargeIsInvalidJson) {
  ExpectError([] { ParseConfig("8E888"); }, kInvalid, {"config is not valid JSON", "8E888"});
  ExpectError(
      [] { ParseConfig(R"({"host_id": "h", "backends": {"rbd": {"type": "rbd", "x": -1e999}}})"); },
      kInvalid, {"config is not valid JSON"});
}

// The nfs backend does not check the types of the settings only ParseVolumeSpec reads.
TEST(FuzzRegressions, NonStringBackendSettingIsInvalid) {
  const Config config = ParseConfig(
      R"({"host_id": "h", "backends": {"nfs": {"type": "nfs", "server": "s", "default_size": 10}}})");
  ExpectError([&] { ParseVolumeSpec("data", {}, config); }, kInvalid,
              {"setting 'default_size' of backend 'nfs'", "number, not a string"});

  const Config on_remove = ParseConfig(
      R"({"host_id": "h", "backends": {"nfs": {"type": "nfs", "server": "s", "on_remove": false}}})");
  ExpectError([&] { ParseVolumeSpec("data", {}, on_remove); }, kInvalid,
              {"setting 'on_remove'", "boolean, not a string such as \"archive\""});

  const Config pool =
      ParseConfig(R"({"host_id": "h", "backends": {"rbd": {"type": "rbd", "pool": ["a"]}}})");
  ExpectError([&] { ParseVolumeSpec("data", {}, pool); }, kInvalid,
              {"setting 'pool' of backend 'rbd'", "array, not a string"});
}

}  // namespace
}  // namespace berth::engine
