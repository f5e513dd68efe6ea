// Create -> attach -> format -> mount -> write -> unmount -> detach -> attach -> mount, on the
// lab's real Ceph: the data comes back and the second attach never formats.
#include <gtest/gtest.h>

#include "common/files.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

class RoundTripTest : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(RoundTripTest, DataSurvivesDetachAndReattachWithoutFormatting) {
  const auto& [fstype, size] = GetParam();
  engine::Engine engine(LabConfig("host-a"));
  const std::string name = UniqueName("rt-" + fstype);
  engine.Create(name, {{"size", size}, {"fstype", fstype}});
  VolumeCleanup cleanup(engine, name);

  auto first = engine.Mount(name, "container-1");
  EXPECT_TRUE(first.formatted);
  ASSERT_TRUE(IsMounted(first.mount_path));
  const std::string formatted_at = engine.Get(name).record.formatted_at;
  EXPECT_FALSE(formatted_at.empty());
  WriteRandomFile(first.mount_path + "/data.bin", 32);
  WriteFileAtomically(first.mount_path + "/marker", "hello from the first attach\n");
  const std::string sum = Sha256(first.mount_path + "/data.bin");

  engine.Unmount(name, "container-1");
  EXPECT_FALSE(IsMounted(first.mount_path));
  EXPECT_TRUE(LoopsUnder(engine.config().state_dir).empty());
  EXPECT_FALSE(engine.Get(name).local.has_value());

  auto second = engine.Mount(name, "container-2");
  EXPECT_FALSE(second.formatted) << "the second attach must find the filesystem";
  EXPECT_EQ(Sha256(second.mount_path + "/data.bin"), sum);
  EXPECT_EQ(ReadFileIfExists(second.mount_path + "/marker").value_or(""),
            "hello from the first attach\n");
  EXPECT_EQ(engine.Get(name).record.formatted_at, formatted_at);
}

INSTANTIATE_TEST_SUITE_P(Filesystems, RoundTripTest,
                         ::testing::Values(std::make_pair("ext4", "256M"),
                                           std::make_pair("xfs", "300M")),
                         [](const auto& info) { return info.param.first; });

TEST(MountReferences, SameIdTwiceNeedsTwoUnmounts) {
  engine::Engine engine(LabConfig("host-a"));
  const std::string name = UniqueName("refs");
  engine.Create(name, {{"size", "64M"}});
  VolumeCleanup cleanup(engine, name);

  auto a = engine.Mount(name, "id-1");
  auto b = engine.Mount(name, "id-1");
  auto c = engine.Mount(name, "id-2");
  EXPECT_EQ(a.mount_path, b.mount_path);
  EXPECT_EQ(a.mount_path, c.mount_path);
  EXPECT_EQ(engine.Get(name).local->TotalRefs(), 3);
  engine.Unmount(name, "id-1");
  engine.Unmount(name, "unknown-id");  // ignored, not an error
  engine.Unmount(name, "id-2");
  EXPECT_TRUE(IsMounted(a.mount_path)) << "one reference of id-1 is still held";
  engine.Unmount(name, "id-1");
  EXPECT_FALSE(IsMounted(a.mount_path));
  engine.Unmount(name, "id-1");  // repeated: still not an error
}

}  // namespace
}  // namespace berth::testing
