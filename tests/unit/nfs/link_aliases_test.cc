// berth-nfs-fuse's names of hard-linked files: what is kept, what a change takes, the bound.
#include "backends/nfs/fuse/link_aliases.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace berth::nfs {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(LinkAliases, OnlyHardLinkedFilesAreKeptAndTakingForgetsThem) {
  LinkAliases aliases;
  aliases.Note(7, 1, "/single");
  EXPECT_TRUE(aliases.empty()) << "a file with one link has no other name to refresh";
  aliases.Note(8, 2, "/a");
  aliases.Note(8, 2, "/b");
  aliases.Note(8, 2, "/a");  // seen again: once
  aliases.Note(9, 3, "/c");
  EXPECT_THAT(aliases.Take(8), ElementsAre("/a", "/b"));
  EXPECT_THAT(aliases.Take(8), IsEmpty());
  EXPECT_THAT(aliases.Take(9), ElementsAre("/c"));
  EXPECT_TRUE(aliases.empty());
}

TEST(LinkAliases, PastTheBoundItStartsAgain) {
  LinkAliases aliases(2);
  aliases.Note(1, 2, "/a");
  aliases.Note(1, 2, "/b");
  aliases.Note(2, 2, "/c");  // a third name: the first two are dropped
  EXPECT_THAT(aliases.Take(1), IsEmpty());
  EXPECT_THAT(aliases.Take(2), ElementsAre("/c"));
}

}  // namespace
}  // namespace berth::nfs
