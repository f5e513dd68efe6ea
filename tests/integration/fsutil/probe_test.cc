#include "fsutil/probe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

TEST_F(ProbeTest, ZeroSizedDeviceIsAnError) {
  const std::string image = Image("empty.img", 0);
  const std::string message = ExpectError([&] { Probe(image); }, ErrorCode::kConflict);
  EXPECT_THAT(message, HasSubstr("size of 0"));
}

}  // namespace
}  // namespace berth::fsutil
