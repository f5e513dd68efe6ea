#include "common/strings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace berth {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(Trim, RemovesLeadingAndTrailingWhitespace) {
  EXPECT_EQ(Trim("  /dev/rbd0\n"), "/dev/rbd0");
  EXPECT_EQ(Trim("\t a b \r\n"), "a b");
  EXPECT_EQ(Trim("plain"), "plain");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim(" \n\t "), "");
}

TEST(Split, KeepsEmptyItems) {
  EXPECT_THAT(Split("a,b,c", ','), ElementsAre("a", "b", "c"));
  EXPECT_THAT(Split("a,,b", ','), ElementsAre("a", "", "b"));
  EXPECT_THAT(Split(",a,", ','), ElementsAre("", "a", ""));
  EXPECT_THAT(Split("", ','), ElementsAre(""));
  EXPECT_THAT(Split("noatime", ','), ElementsAre("noatime"));
  EXPECT_THAT(Split("k=v=w", '='), ElementsAre("k", "v", "w"));
}

TEST(SplitWords, DropsRunsOfWhitespace) {
  EXPECT_THAT(SplitWords("-O  mmp"), ElementsAre("-O", "mmp"));
  EXPECT_THAT(SplitWords("  -L data\t-m 0\n"), ElementsAre("-L", "data", "-m", "0"));
  EXPECT_THAT(SplitWords("one"), ElementsAre("one"));
  EXPECT_THAT(SplitWords(""), IsEmpty());
  EXPECT_THAT(SplitWords(" \t\n "), IsEmpty());
}

}  // namespace
}  // namespace berth
