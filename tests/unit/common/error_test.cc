#include "common/error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <set>
#include <string_view>

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

TEST(CodeForErrno, SaysWhatMayHealAndWhatWillNot) {
  // A refusal of berth's credentials is reported as such, never as an outage.
  EXPECT_EQ(CodeForErrno(-EACCES), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeForErrno(EPERM), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeForErrno(-ETIMEDOUT), ErrorCode::kDeadlineExceeded);
  for (int err : {ECONNREFUSED, ENOTCONN, ESHUTDOWN}) {
    EXPECT_EQ(CodeForErrno(-err), ErrorCode::kUnavailable) << strerror(err);
  }
  EXPECT_EQ(CodeForErrno(-EROFS), ErrorCode::kConflict);  // Abseil's failed precondition
  EXPECT_EQ(CodeForErrno(-EBUSY), ErrorCode::kBusy);
  EXPECT_EQ(CodeForErrno(-ENOENT), ErrorCode::kNotFound);
  EXPECT_EQ(CodeForErrno(-EINVAL), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeForErrno(-EIO), ErrorCode::kInternal);
  const Error e = ErrnoError(-EPERM, "cannot read the registry");
  EXPECT_EQ(e.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(e.system_errno(), EPERM);
}

TEST(ErrorCode, EveryCodeHasADistinctNameAndSnakeCaseLabel) {
  std::set<std::string_view> names;
  std::set<std::string_view> labels;
  for (ErrorCode code : kAllErrorCodes) {
    names.insert(ErrorCodeName(code));
    const std::string_view label = ErrorCodeLabel(code);
    labels.insert(label);
    EXPECT_FALSE(label.empty());
    for (char c : label) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << label;
    }
  }
  // kAllErrorCodes lists every code once: kInternal is the last enumerator.
  EXPECT_EQ(std::size(kAllErrorCodes), static_cast<size_t>(ErrorCode::kInternal) + 1);
  EXPECT_EQ(names.size(), std::size(kAllErrorCodes));
  EXPECT_EQ(labels.size(), std::size(kAllErrorCodes));
  EXPECT_EQ(ErrorCodeLabel(ErrorCode::kPermissionDenied), "permission_denied");
  EXPECT_EQ(ErrorCodeLabel(ErrorCode::kDeadlineExceeded), "deadline_exceeded");
  EXPECT_EQ(ErrorCodeLabel(ErrorCode::kInvalidArgument), "invalid_argument");
}

TEST(Error, WithoutAnErrnoSaysZero) {
  EXPECT_EQ(Error(ErrorCode::kBusy, "held").system_errno(), 0);
}

}  // namespace
}  // namespace berth
