// Inputs the fuzz targets (tests/fuzz) found escaping as something other than berth::Error;
// each is in tests/fuzz/regressions/ too.
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "plugin/docker/protocol.h"
#include "tests/unit/expect_error.h"

namespace berth::docker {
namespace {

using ::berth::testing::ExpectError;

// nlohmann::json throws out_of_range, not parse_error, for a number no double holds; on
// berthd's worker pool it would have escaped the handler.
TEST(FuzzRegressions, NumberTooLargeIsInvalidJson) {
  ExpectError(
      [] { ParseVolumeRequest(Endpoint::kCreate, R"({"Name": "db", "Opts": {"size": 1e999}})"); },
      ErrorCode::kInvalidArgument, {"request body is not valid JSON", "1e999"});
  ExpectError([] { ParseVolumeRequest(Endpoint::kMount, "-1E400"); }, ErrorCode::kInvalidArgument,
              {"request body is not valid JSON"});
}

}  // namespace
}  // namespace berth::docker
