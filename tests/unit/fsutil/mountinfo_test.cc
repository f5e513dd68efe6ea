#include "fsutil/mountinfo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"

namespace berth::fsutil {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

TEST(ParseMountInfo, ParsesKernelDocumentationExample) {
  const auto entries = ParseMountInfo(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n");
  ASSERT_EQ(entries.size(), 1u);
  const MountEntry& e = entries[0];
  EXPECT_EQ(e.id, 36);
  EXPECT_EQ(e.parent_id, 35);
  EXPECT_EQ(e.device_number, "98:0");
  EXPECT_EQ(e.root, "/mnt1");
  EXPECT_EQ(e.mount_point, "/mnt2");
  EXPECT_EQ(e.options, "rw,noatime");
  EXPECT_EQ(e.fstype, "ext3");
  EXPECT_EQ(e.source, "/dev/root");
  EXPECT_EQ(e.super_options, "rw,errors=continue");
}

TEST(ParseMountInfo, AcceptsZeroOrSeveralOptionalFields) {
  const auto entries = ParseMountInfo(
      "22 1 259:1 / / rw,relatime - ext4 /dev/vda1 rw\n"
      "40 22 0:35 / /sys/fs/cgroup rw shared:9 master:3 propagate_from:2 unbindable - cgroup2 "
      "cgroup2 rw,nsdelegate\n");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].fstype, "ext4");
  EXPECT_EQ(entries[1].mount_point, "/sys/fs/cgroup");
  EXPECT_EQ(entries[1].fstype, "cgroup2");
  EXPECT_EQ(entries[1].source, "cgroup2");
  EXPECT_EQ(entries[1].super_options, "rw,nsdelegate");
}

TEST(ParseMountInfo, DecodesOctalEscapes) {
  const auto entries = ParseMountInfo(
      "50 22 7:3 /a\\134b /mnt/my\\040volume\\011tab\\012nl rw - ext4 /dev/my\\040disk rw\n");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].root, "/a\\b");
  EXPECT_EQ(entries[0].mount_point, "/mnt/my volume\ttab\nnl");
  EXPECT_EQ(entries[0].source, "/dev/my disk");
}

TEST(ParseMountInfo, KeepsBackslashesThatAreNotEscapes) {
  const auto entries = ParseMountInfo("50 22 7:3 / /mnt/a\\x\\12 rw - ext4 /dev/x\\ rw\n");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].mount_point, "/mnt/a\\x\\12");
  EXPECT_EQ(entries[0].source, "/dev/x\\");
}

TEST(ParseMountInfo, AcceptsAnEmptySource) {
  // mount -t tmpfs "" /mnt/t leaves two spaces between the type and the super options.
  const auto entries = ParseMountInfo("60 22 0:50 / /mnt/t rw - tmpfs  rw,size=1024k\n");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].source, "");
  EXPECT_EQ(entries[0].super_options, "rw,size=1024k");
}

TEST(ParseMountInfo, SkipsEmptyLinesAndAcceptsNoTrailingNewline) {
  const auto entries = ParseMountInfo(
      "\n22 1 259:1 / / rw - ext4 /dev/vda1 rw\n\n23 22 0:5 / /dev rw - devtmpfs "
      "udev rw");
  EXPECT_THAT(entries, ElementsAre(Field(&MountEntry::id, 22), Field(&MountEntry::id, 23)));
}

TEST(ParseMountInfo, EmptyTextHasNoMounts) { EXPECT_TRUE(ParseMountInfo("").empty()); }

void ExpectMalformed(const std::string& text, const std::string& fragment) {
  try {
    ParseMountInfo(text);
    FAIL() << "expected an error for: " << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
    EXPECT_THAT(e.what(), HasSubstr(fragment));
  }
}

TEST(ParseMountInfo, RejectsMalformedLinesNamingThem) {
  ExpectMalformed("22 1 259:1 / / rw ext4 /dev/vda1 rw\n", "line 1");
  ExpectMalformed("22 1 259:1 / / rw - ext4 /dev/vda1 rw\ngarbage\n", "line 2");
  ExpectMalformed("22 1 259:1 / / rw - ext4 /dev/vda1\n", "after ' - '");
  ExpectMalformed("22 1 259:1 / / rw - ext4 /dev/vda1 rw extra\n", "after ' - '");
  ExpectMalformed("x 1 259:1 / / rw - ext4 /dev/vda1 rw\n", "not numbers");
  ExpectMalformed("22 1x 259:1 / / rw - ext4 /dev/vda1 rw\n", "not numbers");
  ExpectMalformed("22 1 2591 / / rw - ext4 /dev/vda1 rw\n", "major:minor");
  ExpectMalformed("22 1 259:1 / - ext4 /dev/vda1 rw\n", "separator");
}

TEST(FindMount, ReturnsTheTopmostMountAndIgnoresTrailingSlashes) {
  const auto entries = ParseMountInfo(
      "22 1 259:1 / / rw - ext4 /dev/vda1 rw\n"
      "30 22 7:1 / /mnt/v rw - ext4 /dev/loop1 rw\n"
      "31 30 7:2 / /mnt/v rw - xfs /dev/loop2 rw\n");
  auto top = FindMount(entries, "/mnt/v/");
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->id, 31);
  EXPECT_EQ(FindMount(entries, "/mnt//v")->id, 31);
  EXPECT_EQ(FindMount(entries, "/")->id, 22);
  EXPECT_FALSE(FindMount(entries, "/mnt").has_value());
}

TEST(FindMountsOfSource, ReturnsEveryMountOfTheDeviceInOrder) {
  const auto entries = ParseMountInfo(
      "30 22 7:1 / /mnt/a rw - ext4 /dev/berth-test-loop1 rw\n"
      "31 22 7:2 / /mnt/b rw - ext4 /dev/berth-test-loop2 rw\n"
      "32 22 7:1 /sub /mnt/c rw - ext4 /dev/berth-test-loop1 rw\n");
  EXPECT_THAT(FindMountsOfSource(entries, "/dev/berth-test-loop1"),
              ElementsAre(Field(&MountEntry::id, 30), Field(&MountEntry::id, 32)));
  EXPECT_TRUE(FindMountsOfSource(entries, "/dev/berth-test-loop9").empty());
}

TEST(ReadMountInfo, ReadsThisProcessesMounts) {
  const auto entries = ReadMountInfo();
  EXPECT_TRUE(FindMount(entries, "/").has_value());
}

}  // namespace
}  // namespace berth::fsutil
