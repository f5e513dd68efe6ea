#include "common/error.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace berth {
namespace {

TEST(ErrnoError, KeepsTheErrnoAndItsCategory) {
  const Error e = ErrnoError(-ESHUTDOWN, "cannot read the registry");
  EXPECT_EQ(e.system_errno(), ESHUTDOWN);
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(std::string(e.what()), std::string("cannot read the registry: ") + strerror(ESHUTDOWN));
  // Positive or negative, the same errno.
  EXPECT_EQ(ErrnoError(ENOENT, "x").system_errno(), ENOENT);
  EXPECT_EQ(ErrnoError(ENOENT, "x").code(), ErrorCode::kNotFound);
}

TEST(Error, WithoutAnErrnoSaysZero) {
  EXPECT_EQ(Error(ErrorCode::kBusy, "held").system_errno(), 0);
}

}  // namespace
}  // namespace berth
