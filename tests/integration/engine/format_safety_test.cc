// The engine never formats over data: a recorded-formatted volume that probes blank, and images
// holding a partition table or a LUKS header, are refused and left byte-identical.
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

constexpr uint64_t kImageBytes = 64ULL << 20;

class FormatSafetyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const auto& name : volumes_) {
      ReleaseAndRemove(engine_, name);
    }
    for (const auto& image : adopted_images_) {
      cluster_.RemoveImage(image);
    }
  }

  // An image whose bytes come from `file`, adopted as a fresh volume (never formatted).
  std::string AdoptImageFromFile(const std::string& file) {
    const std::string name = UniqueName("adopt");
    cluster_.CreateImage(name, kImageBytes);
    adopted_images_.push_back(name);
    cluster_.WriteImage(name, 0, ReadFileIfExists(file).value());
    engine_.Create(name, {{"image", name}});
    volumes_.push_back(name);
    return name;
  }

  std::string TempFile(uint64_t bytes = kImageBytes) {
    const std::string path = LabDir() + "/" + UniqueName("img") + ".raw";
    auto r = RunCommand({"truncate", "-s", std::to_string(bytes), path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return path;
  }

  void ExpectRefusedAndUntouched(const std::string& name, const std::string& image,
                                 const std::string& expected_words) {
    const std::string before = cluster_.ReadImage(image);
    try {
      engine_.Mount(name, "c1");
      ADD_FAILURE() << "mount of " << name << " should have been refused";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kConflict) << e.what();
      EXPECT_NE(std::string(e.what()).find(expected_words), std::string::npos) << e.what();
    }
    EXPECT_TRUE(cluster_.ReadImage(image) == before) << "the image must stay byte-identical";
    EXPECT_FALSE(engine_.Get(name).local.has_value()) << "a refused mount leaves no attachment";
    EXPECT_TRUE(LoopsUnder(engine_.config().state_dir).empty());
    EXPECT_FALSE(IsMounted(engine_.config().mount_root + "/" + name));
  }

  engine::Engine engine_{LabConfig("host-a")};
  LabCluster cluster_;
  std::vector<std::string> volumes_;
  std::vector<std::string> adopted_images_;
};

TEST_F(FormatSafetyTest, RecordedFormattedButBlankIsRefused) {
  const std::string name = UniqueName("wiped");
  engine_.Create(name, {{"size", "64M"}});
  volumes_.push_back(name);
  ASSERT_TRUE(engine_.Mount(name, "c0").formatted);
  engine_.Unmount(name, "c0");
  ASSERT_TRUE(engine_.Get(name).record.formatted());

  // Something outside berth zeroed the start of the image: every signature is gone.
  cluster_.WriteImage(name, 0, std::string(8 << 20, '\0'));
  ExpectRefusedAndUntouched(name, name, "recorded as formatted");
}

TEST_F(FormatSafetyTest, PartitionTableIsNeverFormatted) {
  for (const std::string label : {"dos", "gpt"}) {
    SCOPED_TRACE(label);
    const std::string file = TempFile();
    auto r = RunCommand({"sh", "-c", "echo 'label: " + label + "\n,,L' | sfdisk -q " + file});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string name = AdoptImageFromFile(file);
    ExpectRefusedAndUntouched(name, name, "partition table");
  }
}

TEST_F(FormatSafetyTest, LuksHeaderIsNeverFormatted) {
  const std::string file = TempFile();
  const std::string key = LabDir() + "/" + UniqueName("key");
  WriteFileAtomically(key, "not-a-real-secret");
  auto r = RunCommand({"cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf",
                       "pbkdf2", "--pbkdf-force-iterations", "1000", "--key-file", key, file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string name = AdoptImageFromFile(file);
  ExpectRefusedAndUntouched(name, name, "LUKS");
}

TEST_F(FormatSafetyTest, ExistingFilesystemOfAnotherTypeIsRefused) {
  constexpr uint64_t kXfsBytes = 300ULL << 20;
  const std::string file = TempFile(kXfsBytes);
  auto r = RunCommand({"mkfs.ext4", "-q", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string name = UniqueName("adopt");
  cluster_.CreateImage(name, kXfsBytes);
  adopted_images_.push_back(name);
  // blkid reads the primary superblock only; the first MiBs carry it.
  cluster_.WriteImage(name, 0, ReadFileIfExists(file).value().substr(0, 8 << 20));
  try {
    engine_.Create(name, {{"image", name}, {"fstype", "xfs"}, {"size", "1G"}});
    ADD_FAILURE() << "adopting with a size other than the image's must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict);
    EXPECT_NE(std::string(e.what()).find("is 300 MiB, not 1 GiB"), std::string::npos) << e.what();
  }
  engine_.Create(name, {{"image", name}, {"fstype", "xfs"}});
  volumes_.push_back(name);
  EXPECT_EQ(engine_.Get(name).record.spec.size_bytes, kXfsBytes) << "adoption takes the real size";
  ExpectRefusedAndUntouched(name, name, "ext4");
}

TEST_F(FormatSafetyTest, AdoptedFilesystemIsMountedAndRecorded) {
  const std::string file = TempFile();
  auto r = RunCommand({"mkfs.ext4", "-q", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string name = AdoptImageFromFile(file);
  auto result = engine_.Mount(name, "c1");
  EXPECT_FALSE(result.formatted);
  EXPECT_TRUE(engine_.Get(name).record.formatted()) << "adopting data fills in the ledger";
}

}  // namespace
}  // namespace berth::testing
