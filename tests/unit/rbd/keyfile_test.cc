#include "backends/rbd/keyfile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "backends/rbd/mappers/krbd.h"
#include "backends/rbd/mappers/mapper.h"
#include "common/error.h"
#include "common/files.h"

namespace berth::rbd {
namespace {

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-keyfile-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(KeyFileTest, HoldsTheKeyPrivatelyAndOnlyWhileItLives) {
  std::string path;
  {
    KeyFile file(dir_, "AQBsecretkey==");
    path = file.path();
    EXPECT_EQ(std::filesystem::path(path).parent_path(), dir_);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(ReadFileIfExists(path), std::optional<std::string>("AQBsecretkey=="));
  }
  EXPECT_FALSE(PathExists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(KeyFileTest, TwoAtOnceGetTheirOwnFiles) {
  KeyFile a(dir_, "a");
  KeyFile b(dir_, "b");
  EXPECT_NE(a.path(), b.path());
  EXPECT_EQ(ReadFileIfExists(b.path()), std::optional<std::string>("b"));
}

TEST_F(KeyFileTest, MissingDirectoryIsAnError) {
  EXPECT_THROW(KeyFile(dir_ + "/missing", "k"), std::exception);
}

TEST(KeyFileArgs, MappersPassTheKeyFileNotTheKey) {
  MapRequest request;
  request.conf_file = "/etc/ceph/ceph.conf";
  request.user = "tenant";
  request.pool = "p";
  request.image = "i";
  request.keyfile = "/var/lib/berth/attach/v/.key.1";
  EXPECT_THAT(
      KrbdMapper().MapCommand(request),
      ::testing::ElementsAre("rbd", "device", "map", "-t", "krbd", "-o", "noudev,noshare,exclusive",
                             "--id", "tenant", "-c", "/etc/ceph/ceph.conf", "--keyfile",
                             "/var/lib/berth/attach/v/.key.1", "p/i"));
}

// A key as `ceph auth get-key` prints it (type AES, a creation time, 16 secret bytes).
constexpr const char* kKey = "AQAAAF9nAAAAABAAYmVydGh0ZXN0c2VjcmV0IQ==";

TEST(ValidateCephxKey, AcceptsABareKey) { EXPECT_NO_THROW(ValidateCephxKey(kKey)); }

TEST(ValidateCephxKey, RefusesAKeyringAndJunkWithoutShowingThem) {
  const std::string keyring = std::string("[client.k8s]\n\tkey = ") + kKey + "\n";
  const std::vector<std::string> bad = {keyring,
                                        std::string("key = ") + kKey,
                                        std::string(kKey).substr(0, 39),
                                        std::string(kKey) + "AAAA",
                                        "not base64 at all, and secret",
                                        "c2VjcmV0LXBhc3N3b3Jk"};
  for (const auto& key : bad) {
    SCOPED_TRACE(key.size());
    try {
      ValidateCephxKey(key);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      const std::string message = e.what();
      EXPECT_NE(message.find("bare cephx key"), std::string::npos) << message;
      EXPECT_EQ(message.find(kKey), std::string::npos) << "the message shows the key";
      EXPECT_EQ(message.find(key), std::string::npos) << "the message shows the value";
    }
  }
}

TEST_F(KeyFileTest, FilesOfDeadProcessesAreSwept) {
  std::filesystem::create_directories(dir_ + "/attach/db");
  // A live file (this process's), one of a pid that cannot exist, one without a pid (older).
  KeyFile live(dir_ + "/attach/db", kKey);
  WriteFileAtomically(dir_ + "/attach/db/.key.999999999.12345", kKey);
  WriteFileAtomically(dir_ + "/attach/db/.key.777", kKey);
  WriteFileAtomically(dir_ + "/attach/db/not-a-key", "kept");
  EXPECT_EQ(SweepOrphanedKeyFiles(dir_ + "/attach"), 1);
  EXPECT_TRUE(PathExists(live.path())) << "a live process's key file was removed";
  EXPECT_FALSE(PathExists(dir_ + "/attach/db/.key.999999999.12345"));
  EXPECT_TRUE(PathExists(dir_ + "/attach/db/.key.777")) << "young, of an older berth: kept";
  EXPECT_TRUE(PathExists(dir_ + "/attach/db/not-a-key"));
}

}  // namespace
}  // namespace berth::rbd
