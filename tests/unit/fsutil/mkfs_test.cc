#include "fsutil/mkfs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"

namespace berth::fsutil {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(IsSupportedFilesystem, AcceptsExt4AndXfsOnly) {
  EXPECT_TRUE(IsSupportedFilesystem("ext4"));
  EXPECT_TRUE(IsSupportedFilesystem("xfs"));
  EXPECT_FALSE(IsSupportedFilesystem("btrfs"));
  EXPECT_FALSE(IsSupportedFilesystem("ext3"));
  EXPECT_FALSE(IsSupportedFilesystem(""));
}

TEST(MkfsCommand, Ext4UsesNonDiscardDefaults) {
  EXPECT_THAT(MkfsCommand("ext4", "/dev/loop3", {}),
              ElementsAre("mkfs.ext4", "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1",
                          "/dev/loop3"));
}

TEST(MkfsCommand, XfsUsesNoDiscard) {
  EXPECT_THAT(MkfsCommand("xfs", "/dev/rbd0", {}), ElementsAre("mkfs.xfs", "-K", "/dev/rbd0"));
}

TEST(MkfsCommand, UserOptionsGoBetweenDefaultsAndDevice) {
  EXPECT_THAT(MkfsCommand("ext4", "/dev/loop3", {"-L", "data", "-m", "0", "-Ohas_journal", "-q"}),
              ElementsAre("mkfs.ext4", "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1",
                          "-L", "data", "-m", "0", "-Ohas_journal", "-q", "/dev/loop3"));
  EXPECT_THAT(
      MkfsCommand("xfs", "/dev/loop3", {"-L", "db", "-m", "reflink=1", "-i", "size=512"}),
      ElementsAre("mkfs.xfs", "-K", "-L", "db", "-m", "reflink=1", "-i", "size=512", "/dev/loop3"));
}

TEST(MkfsCommand, ForceLettersInsideValuesAreNotFlags) {
  // -L takes the rest of the word as its value: "Files" is a label, not -F.
  EXPECT_NO_THROW(MkfsCommand("ext4", "/dev/loop3", {"-LFiles"}));
  EXPECT_NO_THROW(MkfsCommand("ext4", "/dev/loop3", {"-L", "-F"}));
  EXPECT_NO_THROW(MkfsCommand("xfs", "/dev/loop3", {"-Lfast"}));
  EXPECT_NO_THROW(MkfsCommand("xfs", "/dev/loop3", {"-qLf"}));
}

void ExpectInvalid(const std::string& fstype, const std::vector<std::string>& options,
                   const std::string& fragment) {
  try {
    MkfsCommand(fstype, "/dev/loop3", options);
    FAIL() << "expected mkfs options to be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr(fragment));
  }
}

TEST(MkfsCommand, RejectsForceFlags) {
  for (const std::string fstype : {"ext4", "xfs"}) {
    SCOPED_TRACE(fstype);
    ExpectInvalid(fstype, {"-F"}, "forces mkfs");
    ExpectInvalid(fstype, {"-f"}, "forces mkfs");
    ExpectInvalid(fstype, {"-FF"}, "forces mkfs");
    ExpectInvalid(fstype, {"--force"}, "forces mkfs");
    ExpectInvalid(fstype, {"-L", "x", "-qF"}, "forces mkfs");
  }
  ExpectInvalid("ext4", {"-jF"}, "'-F'");
  ExpectInvalid("xfs", {"-Kf"}, "'-f'");
  ExpectInvalid("xfs", {"-qf"}, "forces mkfs");
}

TEST(MkfsCommand, RejectsOptionsThatTouchOtherHostFilesOrDevices) {
  ExpectInvalid("ext4", {"-d", "/etc"}, "files on the host");
  ExpectInvalid("ext4", {"-z", "/etc/passwd"}, "files on the host");
  ExpectInvalid("ext4", {"-J", "size=64,device=/dev/sdb"}, "device=");
  ExpectInvalid("xfs", {"-d", "name=/dev/sdb"}, "name=");
  ExpectInvalid("xfs", {"-l", "logdev=/dev/sdb,size=10m"}, "logdev=");
  ExpectInvalid("xfs", {"-r", "rtdev=/dev/sdb"}, "rtdev=");
  ExpectInvalid("xfs", {"-p", "/etc/protofile"}, "files on the host");
}

TEST(MkfsCommand, RejectsDryRunsAndTypeChanges) {
  ExpectInvalid("ext4", {"-n"}, "without creating");
  ExpectInvalid("ext4", {"-V"}, "without creating");
  ExpectInvalid("ext4", {"-t", "ext2"}, "fstype");
  ExpectInvalid("xfs", {"-N"}, "without creating");
}

TEST(MkfsCommand, RejectsOperandsUnknownOptionsAndMissingValues) {
  ExpectInvalid("ext4", {"/dev/sdb"}, "not an option");
  ExpectInvalid("xfs", {"-L", "x", "/dev/sdb"}, "not an option");
  ExpectInvalid("ext4", {"--"}, "long options");
  ExpectInvalid("ext4", {"-X"}, "unknown");
  ExpectInvalid("xfs", {"-E", "x"}, "unknown");
  ExpectInvalid("ext4", {"-L"}, "needs a value");
  ExpectInvalid("ext4", {""}, "not an option");
  ExpectInvalid("ext4", {"-"}, "not an option");
}

TEST(MkfsCommand, RejectsUnsupportedFilesystems) {
  try {
    MkfsCommand("btrfs", "/dev/loop3", {});
    FAIL() << "expected btrfs to be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("'btrfs' is not supported"));
  }
}

}  // namespace
}  // namespace berth::fsutil
