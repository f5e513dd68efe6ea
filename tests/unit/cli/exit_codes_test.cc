#include "cli/exit_codes.h"

#include <gtest/gtest.h>

#include <set>

namespace berth::cli {
namespace {

TEST(ExitCodeFor, EveryCategoryHasItsOwnCodeAsTheReadmeLists) {
  std::set<int> seen;
  for (ErrorCode code : kAllErrorCodes) {
    const int exit_code = ExitCodeFor(code);
    EXPECT_NE(exit_code, 0) << ErrorCodeName(code);  // 0 is success
    EXPECT_NE(exit_code, 7) << ErrorCodeName(code);  // 7 is health's "problems remain"
    EXPECT_TRUE(seen.insert(exit_code).second) << ErrorCodeName(code) << " shares " << exit_code;
  }
  // The README's table.
  EXPECT_EQ(ExitCodeFor(ErrorCode::kInternal), 1);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kInvalidArgument), 2);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kNotFound), 3);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kBusy), 4);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kConflict), 5);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kUnavailable), 6);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kPermissionDenied), 8);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kDeadlineExceeded), 9);
}

}  // namespace
}  // namespace berth::cli
