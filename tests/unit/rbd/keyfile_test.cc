#include "backends/rbd/keyfile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "backends/rbd/mappers/krbd.h"
#include "backends/rbd/mappers/mapper.h"
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
  EXPECT_THAT(KrbdMapper().MapCommand(request),
              ::testing::ElementsAre("rbd", "device", "map", "-t", "krbd", "-o", "noudev,exclusive",
                                     "--id", "tenant", "-c", "/etc/ceph/ceph.conf", "--keyfile",
                                     "/var/lib/berth/attach/v/.key.1", "p/i"));
}

}  // namespace
}  // namespace berth::rbd
