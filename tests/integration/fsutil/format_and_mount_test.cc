#include "fsutil/format_and_mount.h"

#include <fcntl.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <optional>

#include "fsutil/probe.h"
#include "tests/integration/fsutil/fixtures.h"

namespace berth::fsutil {
namespace {

using ::testing::HasSubstr;
using namespace testing;

class FormatAndMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    mount_point_ = dir_.Sub("mnt/volume");
  }

  // Creates the image and attaches it; the loop is detached before dir_ is removed.
  const std::string& Attach(uint64_t bytes, bool read_only = false) {
    image_ = dir_.Sub("disk.img");
    if (!std::filesystem::exists(image_)) {
      MakeSparseFile(image_, bytes);
    }
    loop_.reset();
    loop_.emplace(image_, read_only);
    return loop_->device();
  }

  FormatAndMountRequest Request(const std::string& fstype = "ext4") const {
    FormatAndMountRequest request;
    request.volume = "db";
    request.device = loop_->device();
    request.mount_point = mount_point_;
    request.fstype = fstype;
    return request;
  }

  FormatOutcome Run(const FormatAndMountRequest& request) {
    return FormatAndMount(request, [this] { ++recorded_; });
  }

  // A refusal must leave every byte of the device as it was.
  std::string ExpectRefusedUntouched(const FormatAndMountRequest& request, ErrorCode code) {
    const std::string before = Sha256(image_);
    std::string message = ExpectError([&] { Run(request); }, code);
    EXPECT_EQ(recorded_, 0);
    EXPECT_EQ(CountMountsOn(mount_point_), 0u);
    EXPECT_EQ(Sha256(image_), before) << "a refused FormatAndMount changed " << image_;
    return message;
  }

  TempDir dir_;
  std::string mount_point_;
  std::string image_;
  std::optional<ScopedLoop> loop_;
  ScopedUnmount unmount_{dir_.Sub("mnt/volume")};
  int recorded_ = 0;
};

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path);
  out << content;
  out.close();
  ASSERT_TRUE(out) << "cannot write " << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(FormatAndMountTest, BlankUnrecordedDeviceIsFormattedRecordedAndMounted) {
  Attach(64 * kMiB);
  EXPECT_EQ(Run(Request()), FormatOutcome::kFormattedNew);
  EXPECT_EQ(recorded_, 1);
  const auto mount = FindMount(ReadMountInfo(), mount_point_);
  ASSERT_TRUE(mount.has_value());
  EXPECT_EQ(mount->fstype, "ext4");
  EXPECT_EQ(mount->source, loop_->device());
  WriteFile(mount_point_ + "/data.txt", "kept across mounts");

  // A retry while mounted neither checks nor stacks a second mount.
  auto recorded = Request();
  recorded.recorded_formatted = true;
  EXPECT_EQ(Run(recorded), FormatOutcome::kMountedExisting);
  EXPECT_EQ(CountMountsOn(mount_point_), 1u);

  Unmount(mount_point_);
  EXPECT_EQ(CountMountsOn(mount_point_), 0u);
  EXPECT_EQ(Run(recorded), FormatOutcome::kMountedExisting);
  EXPECT_EQ(recorded_, 1);
  EXPECT_EQ(ReadFile(mount_point_ + "/data.txt"), "kept across mounts");
}

TEST_F(FormatAndMountTest, ExistingFilesystemUnknownToTheLedgerIsAdopted) {
  Attach(64 * kMiB);
  RunOk({"mkfs.ext4", "-q", loop_->device()});
  EXPECT_EQ(Run(Request()), FormatOutcome::kMountedExisting);
  EXPECT_EQ(recorded_, 1);
  EXPECT_EQ(CountMountsOn(mount_point_), 1u);
}

TEST_F(FormatAndMountTest, XfsIsFormattedAndMountedWithNoUuid) {
  Attach(kXfsBytes);
  auto request = Request("xfs");
  request.mkfs_options = {"-L", "dbvol"};
  request.mount_options = {"noatime"};
  EXPECT_EQ(Run(request), FormatOutcome::kFormattedNew);
  EXPECT_EQ(recorded_, 1);
  const auto mount = FindMount(ReadMountInfo(), mount_point_);
  ASSERT_TRUE(mount.has_value());
  EXPECT_EQ(mount->fstype, "xfs");
  EXPECT_THAT(mount->options, HasSubstr("noatime"));
  EXPECT_THAT(mount->super_options, HasSubstr("nouuid"));
  WriteFile(mount_point_ + "/x", "xfs data");
  Unmount(mount_point_);

  request.recorded_formatted = true;
  EXPECT_EQ(Run(request), FormatOutcome::kMountedExisting);
  EXPECT_EQ(recorded_, 1);
  EXPECT_EQ(ReadFile(mount_point_ + "/x"), "xfs data");
  Unmount(mount_point_);

  // Read-only on a read-only device: no log recovery, which would have to write.
  Attach(kXfsBytes, /*read_only=*/true);
  request.read_only = true;
  EXPECT_EQ(Run(request), FormatOutcome::kMountedExisting);
  const auto ro_mount = FindMount(ReadMountInfo(), mount_point_);
  ASSERT_TRUE(ro_mount.has_value());
  EXPECT_TRUE(ro_mount->options.starts_with("ro")) << ro_mount->options;
  EXPECT_THAT(ro_mount->super_options, HasSubstr("norecovery"));
  EXPECT_EQ(ReadFile(mount_point_ + "/x"), "xfs data");
}

TEST_F(FormatAndMountTest, RecordedFormattedButBlankIsRefused) {
  Attach(64 * kMiB);
  auto request = Request();
  request.recorded_formatted = true;
  const std::string message = ExpectRefusedUntouched(request, ErrorCode::kConflict);
  EXPECT_THAT(message, HasSubstr("volume db is recorded as formatted but " + loop_->device() +
                                 " probes blank; refusing to format it"));
  EXPECT_EQ(Probe(loop_->device()).kind, ProbeResult::Kind::kBlank);
}

TEST_F(FormatAndMountTest, DosPartitionTableIsRefused) {
  image_ = dir_.Sub("disk.img");
  MakeSparseFile(image_, 64 * kMiB);
  RunOk({"sh", "-c", "printf 'label: dos\\n,,L\\n' | sfdisk -q '" + image_ + "'"});
  Attach(64 * kMiB);
  const std::string message = ExpectRefusedUntouched(Request(), ErrorCode::kConflict);
  EXPECT_THAT(message, HasSubstr("dos partition table"));
  EXPECT_THAT(message, HasSubstr(loop_->device()));
  EXPECT_THAT(message, HasSubstr("volume db"));
}

TEST_F(FormatAndMountTest, GptPartitionTableIsRefused) {
  image_ = dir_.Sub("disk.img");
  MakeSparseFile(image_, 64 * kMiB);
  RunOk({"sh", "-c", "printf 'label: gpt\\n,,L\\n' | sfdisk -q '" + image_ + "'"});
  Attach(64 * kMiB);
  EXPECT_THAT(ExpectRefusedUntouched(Request(), ErrorCode::kConflict),
              HasSubstr("gpt partition table"));
}

TEST_F(FormatAndMountTest, LuksIsRefused) {
  image_ = dir_.Sub("disk.img");
  MakeSparseFile(image_, 32 * kMiB);
  const std::string key = dir_.Sub("key");
  RunOk({"sh", "-c", "printf secret > '" + key + "'"});
  RunOk({"cryptsetup", "luksFormat", "--batch-mode", "--key-file", key, "--pbkdf", "pbkdf2",
         "--pbkdf-force-iterations", "1000", image_});
  Attach(32 * kMiB);
  EXPECT_THAT(ExpectRefusedUntouched(Request(), ErrorCode::kConflict),
              HasSubstr("crypto_LUKS (crypto) signature"));
}

TEST_F(FormatAndMountTest, AmbiguousDeviceIsRefused) {
  const std::string xfs = dir_.Sub("xfs.img");
  MakeSparseFile(xfs, kXfsBytes);
  RunOk({"mkfs.xfs", "-q", xfs});
  image_ = dir_.Sub("disk.img");
  MakeSparseFile(image_, 64 * kMiB);
  RunOk({"mkfs.ext4", "-q", "-F", image_});
  RunOk({"dd", "if=" + xfs, "of=" + image_, "bs=512", "count=1", "conv=notrunc", "status=none"});
  Attach(64 * kMiB);
  EXPECT_THAT(ExpectRefusedUntouched(Request(), ErrorCode::kConflict), HasSubstr("ambiguous"));
}

TEST_F(FormatAndMountTest, FilesystemTypeMismatchIsRefused) {
  Attach(kXfsBytes);
  RunOk({"mkfs.ext4", "-q", loop_->device()});
  const std::string message = ExpectRefusedUntouched(Request("xfs"), ErrorCode::kConflict);
  EXPECT_THAT(message, HasSubstr("wants xfs"));
  EXPECT_THAT(message, HasSubstr("existing ext4 filesystem"));
}

TEST_F(FormatAndMountTest, ReadOnlyBlankDeviceIsRefused) {
  Attach(64 * kMiB, /*read_only=*/true);
  auto request = Request();
  request.read_only = true;
  EXPECT_THAT(ExpectRefusedUntouched(request, ErrorCode::kConflict),
              HasSubstr("requested read-only"));
}

TEST_F(FormatAndMountTest, ReadOnlyMountOfAnExistingFilesystemIsReadOnly) {
  Attach(64 * kMiB);
  ASSERT_EQ(Run(Request()), FormatOutcome::kFormattedNew);
  WriteFile(mount_point_ + "/data.txt", "hello");
  Unmount(mount_point_);

  Attach(64 * kMiB, /*read_only=*/true);
  auto request = Request();
  request.read_only = true;
  request.recorded_formatted = true;
  request.mount_options = {"rw"};  // the request's read_only wins
  EXPECT_EQ(Run(request), FormatOutcome::kMountedExisting);
  EXPECT_EQ(recorded_, 1);
  const auto mount = FindMount(ReadMountInfo(), mount_point_);
  ASSERT_TRUE(mount.has_value());
  EXPECT_TRUE(mount->options.starts_with("ro")) << mount->options;
  EXPECT_EQ(ReadFile(mount_point_ + "/data.txt"), "hello");
  UniqueFd fd(::open((mount_point_ + "/new.txt").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(errno, EROFS);
}

TEST_F(FormatAndMountTest, Ext4ThatE2fsckCannotFixIsRefused) {
  image_ = dir_.Sub("disk.img");
  MakeSparseFile(image_, 64 * kMiB);
  RunOk({"mkfs.ext4", "-q", "-F", image_});
  // A cleared root inode on a filesystem marked not clean: e2fsck -p stops and asks for a human.
  RunOk({"debugfs", "-w", "-R", "clri <2>", image_});
  RunOk({"debugfs", "-w", "-R", "ssv state 0", image_});
  Attach(64 * kMiB);
  auto request = Request();
  request.recorded_formatted = true;
  const std::string message = ExpectError([&] { Run(request); }, ErrorCode::kConflict);
  EXPECT_THAT(message,
              HasSubstr("filesystem on " + loop_->device() + " has errors e2fsck -p cannot fix"));
  EXPECT_THAT(message, HasSubstr("run e2fsck manually"));
  EXPECT_EQ(CountMountsOn(mount_point_), 0u);
  EXPECT_EQ(recorded_, 0);
}

TEST_F(FormatAndMountTest, BadMountOptionsFailBeforeAnythingIsWritten) {
  Attach(64 * kMiB);
  auto request = Request();
  request.mount_options = {"bind"};
  ExpectRefusedUntouched(request, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Probe(loop_->device()).kind, ProbeResult::Kind::kBlank);
}

TEST_F(FormatAndMountTest, ForcedMkfsOptionsAreRefusedOnABlankDevice) {
  Attach(64 * kMiB);
  auto request = Request();
  request.mkfs_options = {"-F"};
  ExpectRefusedUntouched(request, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::fsutil
