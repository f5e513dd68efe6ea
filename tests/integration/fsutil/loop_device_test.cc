#include "fsutil/loop_device.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/integration/fsutil/fixtures.h"

namespace berth::fsutil {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace testing;
using namespace std::chrono_literals;

class LoopDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    image_ = dir_.Sub("disk.img");
    MakeSparseFile(image_, 16 * kMiB);
  }

  TempDir dir_;
  std::string image_;
};

uint64_t DeviceBytes(const std::string& device) {
  UniqueFd fd(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
  uint64_t bytes = 0;
  if (!fd.valid() || ::ioctl(fd.get(), BLKGETSIZE64, &bytes) != 0) {
    ADD_FAILURE() << "cannot get the size of " << device << ": " << std::strerror(errno);
  }
  return bytes;
}

TEST_F(LoopDeviceTest, AttachFindDetach) {
  const std::string device = AttachLoop(image_, /*read_only=*/false);
  // A second device on the same file; the first is detached by hand below (TempDir cleans up
  // after a failed assertion).
  ScopedLoop second(image_, /*read_only=*/false);
  EXPECT_THAT(device, StartsWith("/dev/loop"));
  EXPECT_EQ(LoopBackingFile(device), image_);
  EXPECT_EQ(DeviceBytes(device), 16 * kMiB);

  // Writes through the device land in the file.
  {
    UniqueFd fd(::open(device.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::pwrite(fd.get(), "berth", 5, 4096), 5);
    ASSERT_EQ(::fsync(fd.get()), 0);
  }
  {
    UniqueFd fd(::open(image_.c_str(), O_RDONLY | O_CLOEXEC));
    std::array<char, 5> buf{};
    ASSERT_EQ(::pread(fd.get(), buf.data(), buf.size(), 4096), 5);
    EXPECT_EQ(std::string(buf.data(), buf.size()), "berth");
  }

  // The lowest-numbered device backed by the file is found, through any spelling of its path.
  const auto found = FindLoopByBackingFile(dir_.path() + "/./sub/../disk.img");
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(*found == device || *found == second.device());

  DetachLoop(device);
  EXPECT_EQ(LoopBackingFile(device), std::nullopt);
  EXPECT_FALSE(std::filesystem::exists("/sys/block/" + device.substr(5) + "/loop/backing_file"));
  EXPECT_EQ(FindLoopByBackingFile(image_), second.device());
  // Detaching again is a no-op, as a retried cleanup needs. Only while the device is still
  // free: tests run in parallel, and a recycled name may already serve another test's file.
  if (!LoopBackingFile(device)) {
    EXPECT_NO_THROW(DetachLoop(device));
  }
}

TEST_F(LoopDeviceTest, FindReturnsNothingForAnUnattachedFile) {
  EXPECT_EQ(FindLoopByBackingFile(image_), std::nullopt);
  EXPECT_EQ(FindLoopByBackingFile(dir_.Sub("missing.img")), std::nullopt);
}

TEST_F(LoopDeviceTest, DetachWaitsUntilTheLastOpenerReleasesTheBackingFile) {
  const std::string device = AttachLoop(image_, /*read_only=*/false);
  UniqueFd holder(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(holder.valid());
  std::thread closer([&holder] {
    std::this_thread::sleep_for(400ms);
    holder.Reset();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NO_THROW(DetachLoop(device));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  closer.join();
  EXPECT_GE(elapsed, 300ms);
  EXPECT_EQ(LoopBackingFile(device), std::nullopt);
}

// The device clears itself (autoclear at the last close) at any moment of a detach: sysfs then
// answers ENOENT, or ENODEV for an attribute opened just before. Either is a finished detach,
// never an error. The last opener closes at a different moment in each round.
TEST_F(LoopDeviceTest, DetachRacingTheLastCloseAlwaysSucceeds) {
  for (int round = 0; round < 60; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string device = AttachLoop(image_, /*read_only=*/false);
    UniqueFd holder(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(holder.valid());
    std::thread closer([&holder, round] {
      std::this_thread::sleep_for(std::chrono::microseconds(round * 500));
      holder.Reset();
    });
    EXPECT_NO_THROW(DetachLoop(device));
    closer.join();
    EXPECT_EQ(LoopBackingFile(device), std::nullopt);
    // A second detach of a device that is gone is a no-op as well.
    EXPECT_NO_THROW(DetachLoop(device));
  }
}

TEST_F(LoopDeviceTest, ReadOnlyAttachRejectsWrites) {
  const std::string before = Sha256(image_);
  ScopedLoop loop(image_, /*read_only=*/true);
  {
    UniqueFd fd(::open(loop.device().c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    int read_only = 0;
    ASSERT_EQ(::ioctl(fd.get(), BLKROGET, &read_only), 0);
    EXPECT_EQ(read_only, 1);
  }
  UniqueFd fd(::open(loop.device().c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.valid()) {
    const bool wrote = ::pwrite(fd.get(), "x", 1, 0) == 1 && ::fsync(fd.get()) == 0;
    EXPECT_FALSE(wrote) << "a read-only loop device accepted a write";
  } else {
    EXPECT_TRUE(errno == EROFS || errno == EACCES || errno == EPERM) << std::strerror(errno);
  }
  fd.Reset();
  EXPECT_EQ(Sha256(image_), before);
}

TEST_F(LoopDeviceTest, SizeIsRoundedDownTo4KiB) {
  const std::string odd = dir_.Sub("odd.img");
  MakeSparseFile(odd, 8 * kMiB + 1536);
  ScopedLoop loop(odd, /*read_only=*/true);
  EXPECT_EQ(DeviceBytes(loop.device()), 8 * kMiB);
}

TEST_F(LoopDeviceTest, MissingBackingFileIsNotFound) {
  const std::string message =
      ExpectError([&] { AttachLoop(dir_.Sub("missing.img"), false); }, ErrorCode::kNotFound);
  EXPECT_THAT(message, HasSubstr("missing.img"));
}

TEST_F(LoopDeviceTest, NonLoopDevicesAreRefused) {
  ExpectError([] { DetachLoop("/dev/null"); }, ErrorCode::kInvalidArgument);
  ExpectError([] { LoopBackingFile("/dev/vda"); }, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::fsutil
