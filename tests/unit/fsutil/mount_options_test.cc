#include <sys/mount.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "fsutil/mount.h"

namespace berth::fsutil {
namespace {

using ::testing::HasSubstr;

TEST(ParseMountOptions, NoOptionsMeansNoFlagsAndNoData) {
  const MountOptions parsed = ParseMountOptions({});
  EXPECT_EQ(parsed.flags, 0ul);
  EXPECT_EQ(parsed.data, "");
}

TEST(ParseMountOptions, SplitsFlagsFromFilesystemData) {
  const MountOptions parsed =
      ParseMountOptions({"ro,noatime,discard", "nodev", "errors=remount-ro"});
  EXPECT_EQ(parsed.flags, static_cast<unsigned long>(MS_RDONLY | MS_NOATIME | MS_NODEV));
  EXPECT_EQ(parsed.data, "discard,errors=remount-ro");
}

TEST(ParseMountOptions, KnowsEveryCommonFlag) {
  const MountOptions parsed =
      ParseMountOptions({"ro", "noatime", "nodiratime", "relatime", "strictatime", "nosuid",
                         "nodev", "noexec", "sync", "dirsync", "lazytime", "defaults"});
  EXPECT_EQ(parsed.flags,
            static_cast<unsigned long>(MS_RDONLY | MS_NOATIME | MS_NODIRATIME | MS_RELATIME |
                                       MS_STRICTATIME | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                       MS_SYNCHRONOUS | MS_DIRSYNC | MS_LAZYTIME));
  EXPECT_EQ(parsed.data, "");
}

TEST(ParseMountOptions, LaterOptionsUndoEarlierOnes) {
  EXPECT_EQ(ParseMountOptions({"ro,rw"}).flags, 0ul);
  EXPECT_EQ(ParseMountOptions({"rw", "ro"}).flags, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_EQ(ParseMountOptions({"noatime,atime"}).flags, 0ul);
  EXPECT_EQ(ParseMountOptions({"nosuid,suid,nodev,dev,noexec,exec,sync,async"}).flags, 0ul);
}

TEST(ParseMountOptions, KeepsCommasInsideQuotedValues) {
  const MountOptions parsed =
      ParseMountOptions({"noexec,context=\"system_u:object_r:svirt_sandbox_file_t:s0:c1,c2\""});
  EXPECT_EQ(parsed.flags, static_cast<unsigned long>(MS_NOEXEC));
  EXPECT_EQ(parsed.data, "context=\"system_u:object_r:svirt_sandbox_file_t:s0:c1,c2\"");
}

void ExpectInvalid(const std::vector<std::string>& options, const std::string& fragment) {
  try {
    ParseMountOptions(options);
    FAIL() << "expected options to be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr(fragment));
  }
}

TEST(ParseMountOptions, RejectsEmptyItems) {
  ExpectInvalid({""}, "empty item");
  ExpectInvalid({"ro,,noatime"}, "empty item");
  ExpectInvalid({"ro,"}, "empty item");
  ExpectInvalid({",ro"}, "empty item");
}

TEST(ParseMountOptions, RejectsBindMoveRemountAndPropagation) {
  for (const char* option :
       {"bind", "rbind", "move", "remount", "shared", "rshared", "private", "rprivate", "slave",
        "rslave", "unbindable", "runbindable", "make-shared"}) {
    SCOPED_TRACE(option);
    ExpectInvalid({std::string("noatime,") + option}, option);
  }
}

}  // namespace
}  // namespace berth::fsutil
