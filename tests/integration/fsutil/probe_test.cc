#include "fsutil/probe.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/files.h"
#include "tests/integration/fsutil/fixtures.h"

namespace berth::fsutil {
namespace {

using ::testing::HasSubstr;
using namespace testing;

class ProbeTest : public ::testing::Test {
 protected:
  void SetUp() override { BERTH_REQUIRE_ROOT(); }

  std::string Image(const std::string& name, uint64_t bytes) {
    std::string path = dir_.Sub(name);
    MakeSparseFile(path, bytes);
    return path;
  }

  TempDir dir_;
};

TEST_F(ProbeTest, BlankLoopDeviceIsBlank) {
  const std::string image = Image("blank.img", 64 * kMiB);
  ScopedLoop loop(image, /*read_only=*/false);
  const ProbeResult result = Probe(loop.device());
  EXPECT_EQ(result.kind, ProbeResult::Kind::kBlank);
  EXPECT_EQ(result.type, "");
  EXPECT_EQ(result.device_bytes, 64 * kMiB);
  EXPECT_EQ(Describe(result), "no signature (blank)");
}

TEST_F(ProbeTest, Ext4OnLoopDevice) {
  const std::string image = Image("ext4.img", 64 * kMiB);
  RunOk({"mkfs.ext4", "-q", "-F", image});
  ScopedLoop loop(image, /*read_only=*/true);
  const ProbeResult result = Probe(loop.device());
  EXPECT_EQ(result.kind, ProbeResult::Kind::kFilesystem);
  EXPECT_EQ(result.type, "ext4");
  EXPECT_EQ(result.usage, "filesystem");
  EXPECT_EQ(result.uuid.size(), 36u) << result.uuid;
  EXPECT_EQ(Describe(result), "ext4 filesystem");
}

TEST_F(ProbeTest, XfsImageFile) {
  const std::string image = Image("xfs.img", kXfsBytes);
  RunOk({"mkfs.xfs", "-q", image});
  const ProbeResult result = Probe(image);
  EXPECT_EQ(result.kind, ProbeResult::Kind::kFilesystem);
  EXPECT_EQ(result.type, "xfs");
  EXPECT_FALSE(result.uuid.empty());
  EXPECT_EQ(result.device_bytes, kXfsBytes);
}

TEST_F(ProbeTest, DosPartitionTable) {
  const std::string image = Image("dos.img", 64 * kMiB);
  RunOk({"sh", "-c", "printf 'label: dos\\n,,L\\n' | sfdisk -q '" + image + "'"});
  const ProbeResult result = Probe(image);
  EXPECT_EQ(result.kind, ProbeResult::Kind::kPartitionTable);
  EXPECT_EQ(result.type, "dos");
  EXPECT_EQ(Describe(result), "dos partition table");
}

TEST_F(ProbeTest, GptPartitionTableOnLoopDevice) {
  const std::string image = Image("gpt.img", 64 * kMiB);
  RunOk({"sh", "-c", "printf 'label: gpt\\n,,L\\n' | sfdisk -q '" + image + "'"});
  ScopedLoop loop(image, /*read_only=*/true);
  const ProbeResult result = Probe(loop.device());
  EXPECT_EQ(result.kind, ProbeResult::Kind::kPartitionTable);
  EXPECT_EQ(result.type, "gpt");
}

TEST_F(ProbeTest, LuksIsOtherWithCryptoUsage) {
  const std::string image = Image("luks.img", 32 * kMiB);
  const std::string key = dir_.Sub("key");
  RunOk({"sh", "-c", "printf secret > '" + key + "'"});
  // pbkdf2 with few iterations: argon2's default memory and time cost only slow the test down.
  RunOk({"cryptsetup", "luksFormat", "--batch-mode", "--key-file", key, "--pbkdf", "pbkdf2",
         "--pbkdf-force-iterations", "1000", image});
  const ProbeResult result = Probe(image);
  EXPECT_EQ(result.kind, ProbeResult::Kind::kOther);
  EXPECT_EQ(result.type, "crypto_LUKS");
  EXPECT_EQ(result.usage, "crypto");
  EXPECT_EQ(Describe(result), "crypto_LUKS (crypto) signature");
}

TEST_F(ProbeTest, AmbiguousSignaturesAreAnErrorNotBlank) {
  // An xfs superblock copied over sector 0 of an ext4 image: both probers match.
  const std::string xfs = Image("xfs.img", kXfsBytes);
  RunOk({"mkfs.xfs", "-q", xfs});
  const std::string image = Image("both.img", 64 * kMiB);
  RunOk({"mkfs.ext4", "-q", "-F", image});
  RunOk({"dd", "if=" + xfs, "of=" + image, "bs=512", "count=1", "conv=notrunc", "status=none"});
  const std::string message = ExpectError([&] { Probe(image); }, ErrorCode::kConflict);
  EXPECT_THAT(message, HasSubstr("ambiguous"));
  EXPECT_THAT(message, HasSubstr(image));
}

TEST_F(ProbeTest, MissingDeviceIsAnError) {
  const std::string message =
      ExpectError([&] { Probe(dir_.Sub("does-not-exist")); }, ErrorCode::kNotFound);
  EXPECT_THAT(message, HasSubstr("does-not-exist"));
  EXPECT_THAT(message, HasSubstr("No such file"));
}

// Which pages of `path` (a device or a file of `bytes`) are in the page cache.
std::vector<bool> CachedPages(const std::string& path, uint64_t bytes) {
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_GE(fd.get(), 0) << path;
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd.get(), 0);
  EXPECT_NE(map, MAP_FAILED) << path;
  std::vector<unsigned char> resident(bytes / page);
  EXPECT_EQ(::mincore(map, bytes, resident.data()), 0);
  ::munmap(map, bytes);
  std::vector<bool> cached;
  cached.reserve(resident.size());
  for (unsigned char state : resident) {
    cached.push_back((state & 1) != 0);
  }
  return cached;
}

// After PrefetchProbeRegions on `fd`: the first and last MiB of `path` arrive in its page cache
// (the reads were only started: waits up to 10 s for them), and nothing in between.
void ExpectOnlyTheEndsArrive(const std::string& path, uint64_t bytes) {
  const auto mib_pages = static_cast<std::ptrdiff_t>(kMiB / ::sysconf(_SC_PAGESIZE));
  const auto ends_cached = [&] {
    const auto cached = CachedPages(path, bytes);
    return std::all_of(cached.begin(), cached.begin() + mib_pages, [](bool c) { return c; }) &&
           std::all_of(cached.end() - mib_pages, cached.end(), [](bool c) { return c; });
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ends_cached() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ends_cached()) << path;
  const auto cached = CachedPages(path, bytes);
  // The readahead of the first MiB may run on into the next one; the rest stays unread.
  EXPECT_EQ(std::count(cached.begin() + 2 * mib_pages, cached.end() - 2 * mib_pages, true), 0)
      << path;
}

TEST_F(ProbeTest, PrefetchOfALoopDeviceReadsItsFirstAndLastMiB) {
  constexpr uint64_t kBytes = 64 * kMiB;
  const std::string image = Image("prefetch.img", kBytes);
  ScopedLoop loop(image, /*read_only=*/true);
  // This loop device reads ahead and transfers at most 128 KiB a request, as rbd-fuse's image
  // files do: one readahead call per region would then fetch only its first 128 KiB.
  const std::string queue = "/sys/block/" + loop.device().substr(5) + "/queue/";
  for (const char* knob : {"max_sectors_kb", "read_ahead_kb"}) {
    std::ofstream(queue + knob) << "128\n";
    ASSERT_EQ(ReadFileIfExists(queue + knob).value_or(""), "128\n") << queue << knob;
  }
  // A block device's page cache lives while it is open: held as Probe holds it.
  const UniqueFd held(::open(loop.device().c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_GE(held.get(), 0);
  PrefetchProbeRegions(held.get());
  ExpectOnlyTheEndsArrive(loop.device(), kBytes);
}

TEST_F(ProbeTest, PrefetchOfAnImageFileReadsItsFirstAndLastMiB) {
  // An image file, as the rbd-fuse mapper prefetches (its pieces' size is the loop test's).
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir_.path().c_str(), &fs), 0);
  if (fs.f_type == TMPFS_MAGIC) {
    GTEST_SKIP() << "a tmpfs file has no readahead to observe";
  }
  constexpr uint64_t kBytes = 64 * kMiB;
  const std::string image = Image("prefetch-file.img", kBytes);
  const UniqueFd fd(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED), 0);
  const auto before = CachedPages(image, kBytes);
  ASSERT_EQ(std::count(before.begin(), before.end(), true), 0) << "the test file is still cached";
  PrefetchProbeRegions(fd.get());
  ExpectOnlyTheEndsArrive(image, kBytes);
}

TEST_F(ProbeTest, ZeroSizedDeviceIsAnError) {
  const std::string image = Image("empty.img", 0);
  const std::string message = ExpectError([&] { Probe(image); }, ErrorCode::kConflict);
  EXPECT_THAT(message, HasSubstr("size of 0"));
}

}  // namespace
}  // namespace berth::fsutil
