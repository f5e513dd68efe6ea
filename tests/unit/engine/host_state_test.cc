#include "engine/host_state.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "tests/unit/expect_error.h"

namespace berth::engine {
namespace {

using ::berth::testing::ExpectError;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(HostVolumeState, RefsCountPerId) {
  HostVolumeState state;
  EXPECT_EQ(state.TotalRefs(), 0);
  state.AddRef("mount-a");
  state.AddRef("mount-a");
  state.AddRef("/var/lib/kubelet/pods/x/volumes/db");
  EXPECT_EQ(state.TotalRefs(), 3);
  EXPECT_THAT(state.refs, UnorderedElementsAre(Pair("mount-a", 2),
                                               Pair("/var/lib/kubelet/pods/x/volumes/db", 1)));
}

TEST(HostVolumeState, ReleaseRefDropsOneAtATime) {
  HostVolumeState state;
  state.AddRef("mount-a");
  state.AddRef("mount-a");
  state.AddRef("mount-b");
  EXPECT_TRUE(state.ReleaseRef("mount-a"));
  EXPECT_EQ(state.TotalRefs(), 2);
  EXPECT_THAT(state.refs, UnorderedElementsAre(Pair("mount-a", 1), Pair("mount-b", 1)));
  EXPECT_TRUE(state.ReleaseRef("mount-a"));
  EXPECT_THAT(state.refs, ElementsAre(Pair("mount-b", 1)));
  EXPECT_FALSE(state.ReleaseRef("mount-a"));
  EXPECT_EQ(state.TotalRefs(), 1);
  EXPECT_TRUE(state.ReleaseRef("mount-b"));
  EXPECT_THAT(state.refs, IsEmpty());
  EXPECT_EQ(state.TotalRefs(), 0);
}

TEST(HostVolumeState, ReleaseOfUnknownIdIsFalseAndChangesNothing) {
  HostVolumeState state;
  EXPECT_FALSE(state.ReleaseRef("never-added"));
  state.AddRef("mount-a");
  EXPECT_FALSE(state.ReleaseRef("mount-b"));
  EXPECT_THAT(state.refs, ElementsAre(Pair("mount-a", 1)));
}

class HostStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-state-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> VolumeFiles() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/volumes")) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  static HostVolumeState Sample() {
    HostVolumeState state;
    state.name = "db";
    state.backend = "ceph";
    state.read_only = true;
    state.attachment = {"/dev/rbd0", {{"mapper", "krbd"}, {"pid", 0}}};
    state.mount_path = "/var/lib/berth/mounts/db";
    state.AddRef("mount-a");
    state.AddRef("mount-a");
    state.AddRef("mount-b");
    return state;
  }

  std::string dir_;
};

TEST_F(HostStateStoreTest, SaveThenLoadRoundTrips) {
  HostStateStore store(dir_);
  const HostVolumeState saved = Sample();
  store.Save(saved);
  const auto loaded = store.Load("db");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->name, "db");
  EXPECT_EQ(loaded->backend, "ceph");
  EXPECT_TRUE(loaded->read_only);
  EXPECT_EQ(loaded->attachment, saved.attachment);
  EXPECT_EQ(loaded->mount_path, saved.mount_path);
  EXPECT_EQ(loaded->refs, saved.refs);
  EXPECT_EQ(loaded->TotalRefs(), 3);
  // A second store over the same directory (a restarted berthd) sees the same state.
  EXPECT_EQ(StateToJson(*HostStateStore(dir_).Load("db")), StateToJson(saved));
}

TEST_F(HostStateStoreTest, SaveReplacesAndLeavesNoTempFiles) {
  HostStateStore store(dir_);
  HostVolumeState state = Sample();
  store.Save(state);
  state.ReleaseRef("mount-b");
  state.mount_path = "";
  store.Save(state);
  EXPECT_THAT(VolumeFiles(), ElementsAre("db.json"));
  const auto loaded = store.Load("db");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->TotalRefs(), 2);
  EXPECT_EQ(loaded->mount_path, "");
}

TEST_F(HostStateStoreTest, StateFileIsPrivate) {
  HostStateStore store(dir_);
  store.Save(Sample());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/volumes/db.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(HostStateStoreTest, LoadOfMissingVolumeIsNullopt) {
  HostStateStore store(dir_);
  EXPECT_FALSE(store.Load("db").has_value());
  store.Save(Sample());
  EXPECT_FALSE(store.Load("other").has_value());
}

TEST_F(HostStateStoreTest, EraseRemovesAndIsIdempotent) {
  HostStateStore store(dir_);
  store.Save(Sample());
  store.Erase("db");
  EXPECT_FALSE(store.Load("db").has_value());
  EXPECT_THAT(VolumeFiles(), IsEmpty());
  EXPECT_NO_THROW(store.Erase("db"));
}

TEST_F(HostStateStoreTest, CorruptStateIsInternalAndNamesTheFile) {
  HostStateStore store(dir_);
  const std::string path = dir_ + "/volumes/db.json";
  for (const std::string text :
       {"{not json", "", "[1,2]", R"({"name": 5})", R"({"name": "db", "refs": {"a": "x"}})"}) {
    std::ofstream(path, std::ios::trunc) << text;
    ExpectError([&] { store.Load("db"); }, ErrorCode::kInternal, {path, "corrupt"});
  }
}

TEST(StateJson, MissingOptionalFieldsDefault) {
  const HostVolumeState state = StateFromJson({{"name", "db"}});
  EXPECT_EQ(state.name, "db");
  EXPECT_EQ(state.backend, "");
  EXPECT_FALSE(state.read_only);
  EXPECT_TRUE(state.attachment.backend.is_object());
  EXPECT_TRUE(state.attachment.empty());
  EXPECT_THAT(state.refs, IsEmpty());
}

// The typed attachment is saved as berth always wrote it, one flat object with the device among
// the backend's keys, so state files of older and newer berths read alike.
TEST(StateJson, AttachmentIsSavedFlatAndReadBackTyped) {
  HostVolumeState state;
  state.name = "db";
  state.attachment = {"/dev/rbd0", {{"mapper", "krbd"}, {"pid", 7}}};
  const nlohmann::json json = StateToJson(state);
  EXPECT_EQ(json["attachment"],
            nlohmann::json({{"device", "/dev/rbd0"}, {"mapper", "krbd"}, {"pid", 7}}));
  const HostVolumeState read = StateFromJson(json);
  EXPECT_EQ(read.attachment.device, "/dev/rbd0");
  EXPECT_EQ(read.attachment.backend, nlohmann::json({{"mapper", "krbd"}, {"pid", 7}}));
}

TEST(StateJson, AttachmentOfAnAttachUnderWayIsEmpty) {
  for (const nlohmann::json& written : {nlohmann::json(nullptr), nlohmann::json::object()}) {
    const HostVolumeState state = StateFromJson({{"name", "db"}, {"attachment", written}});
    EXPECT_TRUE(state.attachment.empty()) << written;
    EXPECT_EQ(state.attachment.device, "");
  }
  // A file backend's attachment has no device: only its own part.
  const HostVolumeState nfs =
      StateFromJson({{"name", "share"}, {"attachment", {{"mounter", "fuse"}, {"pid", 9}}}});
  EXPECT_EQ(nfs.attachment.device, "");
  EXPECT_FALSE(nfs.attachment.empty());
  EXPECT_EQ(AttachmentToJson(nfs.attachment), nlohmann::json({{"mounter", "fuse"}, {"pid", 9}}));
}

}  // namespace
}  // namespace berth::engine
