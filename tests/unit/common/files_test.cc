#include "common/files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "common/error.h"
#include "tests/unit/expect_error.h"

namespace berth {
namespace {

using ::berth::testing::ExpectError;

mode_t Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-files-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::filesystem::remove_all(dir_);
  }
  void SetUmask(mode_t mask) { ::umask(mask); }

  std::string dir_;
  mode_t old_umask_ = ::umask(022);
};

TEST_F(FilesTest, MakeDirectoriesSetsTheModeWhateverTheUmask) {
  SetUmask(0);
  MakeDirectories(dir_ + "/open/a", 0700);
  EXPECT_EQ(Mode(dir_ + "/open"), 0700u);
  EXPECT_EQ(Mode(dir_ + "/open/a"), 0700u);
  SetUmask(077);
  MakeDirectories(dir_ + "/tight/b", 0755);
  EXPECT_EQ(Mode(dir_ + "/tight/b"), 0755u);
  // Directories that exist keep their mode.
  ASSERT_EQ(::chmod((dir_ + "/tight").c_str(), 0711), 0);
  MakeDirectories(dir_ + "/tight/c", 0755);
  EXPECT_EQ(Mode(dir_ + "/tight"), 0711u);
}

TEST_F(FilesTest, MakePrivateDirectoryTightensAnOpenOne) {
  MakeDirectories(dir_ + "/state", 0777);
  ASSERT_EQ(::chmod((dir_ + "/state").c_str(), 0777), 0);
  MakePrivateDirectory(dir_ + "/state");
  EXPECT_EQ(Mode(dir_ + "/state"), 0700u);
  SetUmask(0);
  MakePrivateDirectory(dir_ + "/fresh/volumes");
  EXPECT_EQ(Mode(dir_ + "/fresh/volumes"), 0700u);
}

TEST_F(FilesTest, MakeMountDirectoriesCreatesRealDirectories) {
  SetUmask(0);
  MakeMountDirectories(dir_, "attach/v", 0700);
  EXPECT_EQ(Mode(dir_ + "/attach"), 0700u);
  EXPECT_EQ(Mode(dir_ + "/attach/v"), 0700u);
  MakeMountDirectories(dir_, "attach/v", 0700);  // again: nothing to do
  MakeMountDirectories(dir_, "v", 0755);
  EXPECT_EQ(Mode(dir_ + "/v"), 0755u);
}

TEST_F(FilesTest, MakeMountDirectoriesRefusesSymlinksAndNonDirectories) {
  const std::string outside = dir_ + "/outside";
  MakeDirectories(outside, 0755);
  MakeDirectories(dir_ + "/root", 0755);
  std::filesystem::create_symlink(outside, dir_ + "/root/v");
  ExpectError([&] { MakeMountDirectories(dir_ + "/root", "v", 0755); }, ErrorCode::kConflict,
              {dir_ + "/root/v is a symbolic link or not a directory", "Remove it"});
  std::filesystem::create_symlink(outside, dir_ + "/root/attach");
  ExpectError([&] { MakeMountDirectories(dir_ + "/root", "attach/v", 0700); }, ErrorCode::kConflict,
              {dir_ + "/root/attach is a symbolic link"});
  EXPECT_TRUE(std::filesystem::is_empty(outside)) << "nothing was made through the links";
  {
    auto fd = ::creat((dir_ + "/root/file").c_str(), 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  ExpectError([&] { MakeMountDirectories(dir_ + "/root", "file", 0755); }, ErrorCode::kConflict,
              {"not a directory"});
  // A symlinked root is the admin's choice and is followed.
  std::filesystem::create_symlink(dir_ + "/root", dir_ + "/root-link");
  MakeMountDirectories(dir_ + "/root-link", "w", 0755);
  EXPECT_EQ(Mode(dir_ + "/root/w"), 0755u);
}

TEST_F(FilesTest, MakeMountDirectoriesRefusesARootOthersCanWrite) {
  MakeDirectories(dir_ + "/open", 0777);
  ExpectError([&] { MakeMountDirectories(dir_ + "/open", "v", 0755); }, ErrorCode::kConflict,
              {dir_ + "/open is writable by group or others (mode 0777)", "chmod go-w"});
  ASSERT_EQ(::chmod((dir_ + "/open").c_str(), 01777), 0);
  ExpectError([&] { MakeMountDirectories(dir_ + "/open", "v", 0755); }, ErrorCode::kConflict,
              {"(mode 1777)"});
  EXPECT_FALSE(PathExists(dir_ + "/open/v"));
}

TEST_F(FilesTest, MakeMountDirectoriesRefusesDotComponents) {
  for (const std::string relative : {"..", "a/../b", ".", "a/", "/v"}) {
    SCOPED_TRACE(relative);
    ExpectError([&] { MakeMountDirectories(dir_, relative, 0755); }, ErrorCode::kInvalidArgument,
                {"without '/', '.' or '..' components"});
  }
  EXPECT_FALSE(PathExists(dir_ + "/a")) << "nothing is made before the whole path is checked";
}

}  // namespace
}  // namespace berth
