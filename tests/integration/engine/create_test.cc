// Create is idempotent, names spec differences, and bad input creates nothing.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

TEST(CreateTest, SameSpecSucceedsDifferentSpecNamesTheDifference) {
  engine::Engine engine(LabConfig("host-a"));
  const std::string name = UniqueName("create");
  engine.Create(name, {{"size", "256M"}, {"fstype", "ext4"}});
  VolumeCleanup cleanup(engine, name);

  EXPECT_NO_THROW(engine.Create(name, {{"size", "256M"}, {"fstype", "ext4"}}));
  EXPECT_NO_THROW(engine.Create(name, {})) << "options not given are not differences";
  try {
    engine.Create(name, {{"size", "512M"}});
    FAIL() << "a different size must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict);
    EXPECT_NE(std::string(e.what()).find("size is 256 MiB, not 512 MiB"), std::string::npos)
        << e.what();
  }
  // Another engine (another host) sees the same volume through the cluster registry.
  engine::Engine other(LabConfig("host-b"));
  EXPECT_EQ(other.Get(name).record.spec.size_bytes, 256ULL << 20);
}

TEST(CreateTest, BadInputCreatesNothing) {
  engine::Engine engine(LabConfig("host-a"));
  LabCluster cluster;
  const auto images_before = cluster.Images();
  const auto volumes_before = engine.List().size();

  struct Case {
    std::string name;
    engine::Options options;
    std::string expected_words;
  };
  const std::vector<Case> cases = {
      {"", {}, "empty"},
      {"a/b", {}, "'/'"},
      {"a..b", {}, "'..'"},
      {std::string(129, 'x'), {}, "129 characters"},
      {"-dash", {}, "start with a letter or digit"},
      {UniqueName("bad"), {{"size", "0"}}, "zero"},
      {UniqueName("bad"), {{"size", "-1G"}}, "negative"},
      {UniqueName("bad"), {{"size", "abc"}}, "not a number"},
      {UniqueName("bad"), {{"size", "2P"}}, "over 1 PiB"},
      {UniqueName("bad"), {{"bogus", "1"}}, "unknown option 'bogus'"},
      {UniqueName("bad"), {{"backend", "nope"}}, "unknown backend 'nope'"},
      {UniqueName("bad"), {{"fstype", "btrfs"}}, "btrfs"},
      {UniqueName("bad"), {{"mkfs_options", "-F"}}, "-F"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("name='" + c.name + "'");
    try {
      engine.Create(c.name, c.options);
      ADD_FAILURE() << "create should have been refused";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.expected_words), std::string::npos) << e.what();
    }
  }
  auto images_after = cluster.Images();
  EXPECT_EQ(images_after, images_before) << "no image may be created by bad input";
  EXPECT_EQ(engine.List().size(), volumes_before) << "no registry entry may be written";
}

TEST(CreateTest, ForeignImageIsNotTakenOverWithoutImageOption) {
  engine::Engine engine(LabConfig("host-a"));
  LabCluster cluster;
  const std::string name = UniqueName("foreign");
  cluster.CreateImage(name, 64ULL << 20);
  try {
    engine.Create(name, {});
    ADD_FAILURE() << "an existing image must not silently become a berth volume";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict);
    EXPECT_NE(std::string(e.what()).find("image=" + name), std::string::npos) << e.what();
  }
  EXPECT_THROW(engine.Get(name), Error);
  cluster.RemoveImage(name);
}

TEST(RemoveTest, RefusedWhileMountedThenRemovesTheImage) {
  engine::Engine engine(LabConfig("host-a"));
  LabCluster cluster;
  const std::string name = UniqueName("rm");
  engine.Create(name, {{"size", "64M"}});
  engine.Mount(name, "c1");
  try {
    engine.Remove(name);
    ADD_FAILURE() << "remove of a mounted volume must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBusy);
    EXPECT_NE(std::string(e.what()).find("host-a"), std::string::npos) << e.what();
  }
  engine.Unmount(name, "c1");
  engine.Remove(name);
  auto images = cluster.Images();
  EXPECT_EQ(std::count(images.begin(), images.end(), name), 0);
  EXPECT_THROW(engine.Get(name), Error);
}

TEST(RemoveTest, RefusedWhileWatchedElsewhereOrSnapshotted) {
  engine::Engine host_a(LabConfig("host-a"));
  engine::Engine host_b(LabConfig("host-b"));
  LabCluster cluster;
  const std::string name = UniqueName("rm-watched");
  host_a.Create(name, {{"size", "64M"}});
  host_a.Mount(name, "format-once");
  host_a.Unmount(name, "format-once");

  // Host B reads it: no lock, but its mapper watches the image. Host A cannot see B's state.
  host_b.Mount(name, "reader", /*read_only=*/true);
  try {
    host_a.Remove(name);
    ADD_FAILURE() << "remove of a mapped image must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBusy);
    EXPECT_NE(std::string(e.what()).find("watched by"), std::string::npos) << e.what();
  }
  host_b.Unmount(name, "reader");

  cluster.CreateSnapshot(name, "keep");
  try {
    host_a.Remove(name);
    ADD_FAILURE() << "remove of an image with snapshots must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBusy);
    EXPECT_NE(std::string(e.what()).find("1 snapshot"), std::string::npos) << e.what();
  }
  auto images = cluster.Images();
  EXPECT_EQ(std::count(images.begin(), images.end(), name), 1) << "nothing was deleted";
  EXPECT_NO_THROW(host_a.Get(name)) << "the registry entry stays";
  cluster.RemoveSnapshot(name, "keep");
  host_a.Remove(name);
}

}  // namespace
}  // namespace berth::testing
