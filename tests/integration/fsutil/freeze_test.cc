#include "fsutil/freeze.h"

#include <fcntl.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "fsutil/mount.h"
#include "tests/integration/fsutil/fixtures.h"

namespace berth::fsutil {
namespace {

using namespace testing;
using namespace std::chrono_literals;

class FreezeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    MakeSparseFile(image_, 64 * kMiB);
    RunOk({"mkfs.ext4", "-q", "-F", image_});
    loop_.emplace(image_, /*read_only=*/false);
    Mount(loop_->device(), mount_point_, "ext4", {});
  }

  TempDir dir_;
  std::string image_ = dir_.Sub("disk.img");
  std::string mount_point_ = dir_.Sub("mnt");
  std::optional<ScopedLoop> loop_;
  ScopedUnmount unmount_{mount_point_};
};

TEST_F(FreezeTest, FreezeBlocksWritesUntilThaw) {
  std::atomic<bool> written = false;
  std::thread writer;
  {
    ScopedFreeze freeze(mount_point_);
    // A second freeze of a frozen filesystem is reported, not silently stacked.
    ExpectError([&] { Freeze(mount_point_); }, ErrorCode::kBusy);
    writer = std::thread([&] {
      UniqueFd fd(
          ::open((mount_point_ + "/during-freeze").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
      if (fd.valid()) {
        (void)!::write(fd.get(), "x", 1);
        ::fsync(fd.get());
      }
      written = true;
    });
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(written) << "a write completed on a frozen filesystem";
  }
  writer.join();
  EXPECT_TRUE(written);
  EXPECT_TRUE(std::filesystem::exists(mount_point_ + "/during-freeze"));
}

TEST_F(FreezeTest, ThawOfAnUnfrozenFilesystemIsANoOp) {
  Freeze(mount_point_);
  Thaw(mount_point_);
  EXPECT_NO_THROW(Thaw(mount_point_));
}

TEST_F(FreezeTest, FreezingAMissingPathIsNotFound) {
  ExpectError([&] { Freeze(dir_.Sub("missing")); }, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace berth::fsutil
