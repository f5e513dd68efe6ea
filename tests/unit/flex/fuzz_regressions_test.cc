// Inputs the fuzz targets (tests/fuzz) found escaping as something other than berth::Error;
// each is in tests/fuzz/regressions/ too.
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "plugin/flex/call.h"
#include "tests/unit/expect_error.h"

namespace berth::flex {
namespace {

using ::berth::testing::ExpectError;

// nlohmann::json throws out_of_range, not parse_error, for a number no double holds.
TEST(FuzzRegressions, NumberTooLargeInOptionsIsInvalid) {
  ExpectError([] { ParseOptions(R"({"image": "pg-data", "size": 1e999})"); },
              ErrorCode::kInvalidArgument, {"number too large", "object of strings"});
  ExpectError(
      [] {
        ParseCall({"getvolumename", "[9e99999]"});
      },
      ErrorCode::kInvalidArgument, {"number too large"});
}

}  // namespace
}  // namespace berth::flex
