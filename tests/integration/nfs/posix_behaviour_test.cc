// The same POSIX checks against a local directory (the reference) and a berth-nfs-fuse mount,
// in one run: whatever differs between the two instances is a bug in berth-nfs-fuse (or a
// documented NFS limit). The NFS instance needs the lab's ganesha: BERTH_NFS_URL.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/subprocess.h"
#include "fsutil/mountinfo.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr off_t kGiB = off_t{1} << 30;
constexpr decltype(statfs::f_type) kFuseSuperMagic = 0x65735546;  // FUSE_SUPER_MAGIC
constexpr uid_t kOtherUser = 65534;  // nobody: neither root nor the files' owner
constexpr gid_t kOtherGroup = 65534;

// Runs `step` in a child process as kOtherUser/kOtherGroup with no supplementary groups, and
// returns what it returned (an errno, 0 for success).
int AsOtherUser(const std::function<int()>& step) {
  const pid_t child = fork();
  if (child == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(kOtherGroup) != 0 || setuid(kOtherUser) != 0) {
      _exit(255);
    }
    _exit(step());
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status)) {
    ADD_FAILURE() << "the child as uid " << kOtherUser << " did not finish";
    return -1;
  }
  EXPECT_NE(WEXITSTATUS(status), 255) << "the child could not become uid " << kOtherUser;
  return WEXITSTATUS(status);
}

int OpenErrno(const std::string& path, int flags) {
  const int fd = open(path.c_str(), flags);
  if (fd < 0) {
    return errno;
  }
  close(fd);
  return 0;
}

int UtimensErrno(const std::string& path, const timespec* times) {
  return utimensat(AT_FDCWD, path.c_str(), times, 0) == 0 ? 0 : errno;
}

timespec Ctime(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st.st_ctim;
}

bool Later(const timespec& a, const timespec& b) {
  return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

enum class Target { kLocal, kNfs };

void PrintTo(Target target, std::ostream* out) {
  *out << (target == Target::kLocal ? "local directory" : "berth-nfs-fuse mount");
}

std::string MakeTempDir(const std::string& prefix) {
  std::string pattern = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return {};
  }
  return pattern;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Mounted(const std::string& mountpoint) {
  return berth::fsutil::FindMount(berth::fsutil::ReadMountInfo(), mountpoint).has_value();
}

// One berth-nfs-fuse process and its mount. Stop() runs from TearDown even when a check
// failed: nothing may stay mounted or running.
struct FuseMount {
  std::string mountpoint;
  std::string log;
  pid_t pid = -1;

  void Start(const std::string& url, const std::string& where) {
    mountpoint = where + "/mnt";
    log = where + "/berth-nfs-fuse.log";
    ASSERT_EQ(mkdir(where.c_str(), 0755) == 0 || errno == EEXIST, true) << std::strerror(errno);
    ASSERT_EQ(mkdir(mountpoint.c_str(), 0755), 0) << std::strerror(errno);
    pid = berth::SpawnDetached({BERTH_NFS_FUSE_PATH, "--url", url, "--timeout-ms", "10000",
                                "--threads", "4", "--log", log, mountpoint},
                               log);
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (!Mounted(mountpoint)) {
      ASSERT_TRUE(berth::ProcessAlive(pid)) << "berth-nfs-fuse exited before mounting; its log:\n"
                                            << ReadText(log);
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "no mount on " << mountpoint << " after 15 s; log:\n"
          << ReadText(log);
      std::this_thread::sleep_for(20ms);
    }
  }

  void Stop() {
    if (pid <= 0) {
      return;
    }
    if (Mounted(mountpoint) && umount2(mountpoint.c_str(), 0) != 0) {
      ADD_FAILURE() << "umount " << mountpoint << ": " << std::strerror(errno);
      kill(pid, SIGTERM);
    }
    // berth-nfs-fuse exits by itself once unmounted; SIGTERM and SIGKILL are the fallbacks.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    bool terminated = false;
    while (berth::ProcessAlive(pid)) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "berth-nfs-fuse did not exit after unmount; killing it";
        kill(pid, SIGKILL);
        break;
      }
      if (!terminated && std::chrono::steady_clock::now() > deadline - 5s) {
        kill(pid, SIGTERM);
        terminated = true;
      }
      std::this_thread::sleep_for(20ms);
    }
    if (Mounted(mountpoint)) {
      umount2(mountpoint.c_str(), MNT_DETACH);
    }
    pid = -1;
  }
};

class PosixBehaviour : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    if (GetParam() == Target::kLocal) {
      root_ = MakeTempDir("berth-posix-local-");
      return;
    }
    const char* url = std::getenv("BERTH_NFS_URL");
    if (url == nullptr || *url == '\0') {
      FAIL() << "BERTH_NFS_URL is not set: the NFS instance needs the lab's ganesha "
                "(run the tests through scripts/lab, which exports it), e.g. "
                "nfs://127.0.0.1/export?nfsport=P&mountport=Q";
    }
    url_ = url;
    work_ = MakeTempDir("berth-posix-nfs-");
    ASSERT_FALSE(work_.empty());
    ASSERT_NO_FATAL_FAILURE(mount_.Start(url_, work_ + "/this-host"));
    // A directory of our own on the shared export, so concurrent runs do not collide. The
    // test's name has a '/' (".../BerthNfsFuse"): flattened, or the directory would not be in
    // the mount at all.
    name_ = "posix-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name_.begin(), name_.end(), '/', '_');
    root_ = mount_.mountpoint + "/" + name_;
    fs::remove_all(root_);
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0) << root_ << ": " << std::strerror(errno);
    // Checked, not assumed: the checks below are worth nothing on the local disk.
    struct statfs where = {};
    ASSERT_EQ(statfs(root_.c_str(), &where), 0) << std::strerror(errno);
    ASSERT_EQ(where.f_type, kFuseSuperMagic) << root_ << " is not in the berth-nfs-fuse mount";
  }

  void TearDown() override {
    std::error_code ignored;
    if (!root_.empty()) {
      fs::remove_all(root_, ignored);
    }
    other_host_.Stop();
    mount_.Stop();
    if (!work_.empty()) {
      if (!Mounted(mount_.mountpoint) && !Mounted(other_host_.mountpoint)) {
        fs::remove_all(work_, ignored);
      }
    } else if (!root_.empty()) {
      fs::remove_all(root_, ignored);
    }
  }

  // The same entry as another host sees it: through a second berth-nfs-fuse mount of the
  // export (its own process, contexts and caches, as on another machine), or the reference
  // directory itself for the local instance.
  std::string OtherHostPath(const std::string& name) {
    if (GetParam() == Target::kLocal) {
      return Path(name);
    }
    if (other_host_.pid <= 0) {
      other_host_.Start(url_, work_ + "/other-host");
      EXPECT_FALSE(::testing::Test::HasFatalFailure()) << "the second mount did not start";
    }
    return other_host_.mountpoint + "/" + name_ + "/" + name;
  }

  std::string Path(const std::string& name) const { return root_ + "/" + name; }

  // Lets kOtherUser reach root_: mkdtemp made the directories on the way 0700.
  void OpenTheWayForOtherUsers() {
    for (const std::string& dir : {work_, work_ + "/this-host", root_}) {
      if (!dir.empty() && dir != "/this-host") {
        ASSERT_EQ(chmod(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
      }
    }
  }

  void WriteFile(const std::string& name, const std::string& data, mode_t mode = 0644) {
    berth::UniqueFd fd(open(Path(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode));
    ASSERT_TRUE(fd.valid()) << name << ": " << std::strerror(errno);
    ASSERT_EQ(write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()))
        << std::strerror(errno);
  }

  std::string Contents(const std::string& name) const { return ReadText(Path(name)); }

  struct stat Stat(const std::string& name) const {
    struct stat st = {};
    EXPECT_EQ(lstat(Path(name).c_str(), &st), 0) << name << ": " << std::strerror(errno);
    return st;
  }

  int ErrnoOf(int rc) const { return rc == 0 ? 0 : errno; }

  std::string url_;
  std::string name_;
  std::string root_;
  std::string work_;
  FuseMount mount_;
  FuseMount other_host_;
};

TEST_P(PosixBehaviour, RenameReplacesAnExistingFile) {
  WriteFile("old", "old contents");
  WriteFile("new", "new contents");
  const ino_t new_inode = Stat("new").st_ino;
  ASSERT_EQ(rename(Path("new").c_str(), Path("old").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(Contents("old"), "new contents");
  EXPECT_EQ(Stat("old").st_ino, new_inode);
  struct stat st = {};
  EXPECT_EQ(lstat(Path("new").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST_P(PosixBehaviour, AppendModeWritesAtTheEnd) {
  WriteFile("log", "abc");
  berth::UniqueFd fd(open(Path("log").c_str(), O_WRONLY | O_APPEND));
  ASSERT_TRUE(fd.valid()) << std::strerror(errno);
  ASSERT_EQ(write(fd.get(), "def", 3), 3);
  // O_APPEND ignores the file offset.
  ASSERT_EQ(lseek(fd.get(), 0, SEEK_SET), 0);
  ASSERT_EQ(write(fd.get(), "ghi", 3), 3);
  fd.Reset();
  EXPECT_EQ(Contents("log"), "abcdefghi");
}

TEST_P(PosixBehaviour, SparseFilesReadZerosInHoles) {
  const off_t offset = 64 << 20;
  {
    berth::UniqueFd fd(open(Path("sparse").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    ASSERT_EQ(pwrite(fd.get(), "end", 3, offset), 3) << std::strerror(errno);
  }
  const struct stat st = Stat("sparse");
  EXPECT_EQ(st.st_size, offset + 3);
  // A hole occupies no blocks: far less than the 64 MiB of its size.
  EXPECT_LT(st.st_blocks * 512, offset / 2);
  berth::UniqueFd fd(open(Path("sparse").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid());
  std::vector<char> buffer(4096, 'x');
  ASSERT_EQ(pread(fd.get(), buffer.data(), buffer.size(), offset / 2), 4096);
  EXPECT_TRUE(std::all_of(buffer.begin(), buffer.end(), [](char c) { return c == 0; }));
  char tail[8] = {};
  EXPECT_EQ(pread(fd.get(), tail, sizeof(tail), offset), 3);
  EXPECT_EQ(std::string(tail, 3), "end");
}

TEST_P(PosixBehaviour, LargeFilesBeyondFourGiB) {
  const off_t offset = 5 * kGiB + 12345;
  {
    berth::UniqueFd fd(open(Path("large").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    ASSERT_EQ(pwrite(fd.get(), "past 4 GiB", 10, offset), 10) << std::strerror(errno);
    ASSERT_EQ(pwrite(fd.get(), "at 4 GiB", 8, 4 * kGiB), 8) << std::strerror(errno);
  }
  EXPECT_EQ(Stat("large").st_size, offset + 10);
  berth::UniqueFd fd(open(Path("large").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid());
  char buffer[16] = {};
  ASSERT_EQ(pread(fd.get(), buffer, sizeof(buffer), offset), 10);
  EXPECT_EQ(std::string(buffer, 10), "past 4 GiB");
  ASSERT_EQ(pread(fd.get(), buffer, 8, 4 * kGiB), 8);
  EXPECT_EQ(std::string(buffer, 8), "at 4 GiB");
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_END), offset + 10);
}

TEST_P(PosixBehaviour, MtimeFollowsWritesAndUtimens) {
  WriteFile("stamped", "x");
  // An mtime in the past, set explicitly, is reported back to the second.
  const timespec past[2] = {{1'600'000'000, 0}, {1'600'000'100, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, Path("stamped").c_str(), past, 0), 0) << std::strerror(errno);
  struct stat st = Stat("stamped");
  EXPECT_EQ(st.st_atim.tv_sec, 1'600'000'000);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'600'000'100);
  // UTIME_OMIT keeps one time while the other changes.
  const timespec only_atime[2] = {{1'600'000'200, 0}, {0, UTIME_OMIT}};
  ASSERT_EQ(utimensat(AT_FDCWD, Path("stamped").c_str(), only_atime, 0), 0);
  st = Stat("stamped");
  EXPECT_EQ(st.st_atim.tv_sec, 1'600'000'200);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'600'000'100);
  // A write moves mtime to about now.
  const time_t before = time(nullptr);
  {
    berth::UniqueFd fd(open(Path("stamped").c_str(), O_WRONLY));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(write(fd.get(), "y", 1), 1);
  }
  st = Stat("stamped");
  EXPECT_GE(st.st_mtim.tv_sec, before - 2);
  EXPECT_LE(st.st_mtim.tv_sec, time(nullptr) + 2);
  // touch: both times to now.
  ASSERT_EQ(utimensat(AT_FDCWD, Path("stamped").c_str(), past, 0), 0);
  ASSERT_EQ(utimensat(AT_FDCWD, Path("stamped").c_str(), nullptr, 0), 0);
  st = Stat("stamped");
  EXPECT_GE(st.st_mtim.tv_sec, before - 2);
}

TEST_P(PosixBehaviour, ChmodIsVisibleAndCreateModesStick) {
  const mode_t old_umask = umask(022);
  {
    berth::UniqueFd fd(open(Path("excl").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0640));
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
  }
  EXPECT_EQ(Stat("excl").st_mode & 07777, 0640u);
  berth::UniqueFd again(open(Path("excl").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0640));
  EXPECT_FALSE(again.valid());
  EXPECT_EQ(errno, EEXIST);
  // The umask applies to the requested mode.
  WriteFile("masked", "", 0666);
  EXPECT_EQ(Stat("masked").st_mode & 07777, 0644u);
  umask(old_umask);

  ASSERT_EQ(chmod(Path("excl").c_str(), 0600), 0) << std::strerror(errno);
  EXPECT_EQ(Stat("excl").st_mode & 07777, 0600u);
  ASSERT_EQ(chmod(Path("excl").c_str(), 04755), 0) << std::strerror(errno);
  EXPECT_EQ(Stat("excl").st_mode & 07777, 04755u);
  ASSERT_EQ(mkdir(Path("dir").c_str(), 0750), 0);
  EXPECT_EQ(Stat("dir").st_mode & 07777, 0750u & ~022u);
  EXPECT_TRUE(S_ISDIR(Stat("dir").st_mode));
  ASSERT_EQ(chown(Path("excl").c_str(), 1234, 5678), 0) << std::strerror(errno);
  EXPECT_EQ(Stat("excl").st_uid, 1234u);
  EXPECT_EQ(Stat("excl").st_gid, 5678u);
}

TEST_P(PosixBehaviour, SymlinksCreateAndRead) {
  WriteFile("target", "through the link");
  ASSERT_EQ(symlink("target", Path("link").c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(symlink("../nowhere/at all", Path("dangling").c_str()), 0) << std::strerror(errno);
  char buffer[256] = {};
  ASSERT_EQ(readlink(Path("link").c_str(), buffer, sizeof(buffer)), 6);
  EXPECT_EQ(std::string(buffer, 6), "target");
  const ssize_t length = readlink(Path("dangling").c_str(), buffer, sizeof(buffer));
  ASSERT_EQ(length, 17);
  EXPECT_EQ(std::string(buffer, 17), "../nowhere/at all");
  EXPECT_TRUE(S_ISLNK(Stat("link").st_mode));
  EXPECT_EQ(Contents("link"), "through the link");
  struct stat st = {};
  EXPECT_EQ(stat(Path("dangling").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST_P(PosixBehaviour, MkdirRmdirUnlink) {
  ASSERT_EQ(mkdir(Path("d").c_str(), 0755), 0) << std::strerror(errno);
  EXPECT_EQ(ErrnoOf(mkdir(Path("d").c_str(), 0755)), EEXIST);
  WriteFile("d/f", "data");
  ASSERT_EQ(mkdir(Path("d/sub").c_str(), 0755), 0);
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(Path("d"))) {
    names.insert(entry.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"f", "sub"}));
  EXPECT_EQ(ErrnoOf(rmdir(Path("d").c_str())), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf(unlink(Path("d/sub").c_str())), EISDIR);
  EXPECT_EQ(ErrnoOf(rmdir(Path("d/f").c_str())), ENOTDIR);
  ASSERT_EQ(unlink(Path("d/f").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(ErrnoOf(unlink(Path("d/f").c_str())), ENOENT);
  ASSERT_EQ(rmdir(Path("d/sub").c_str()), 0);
  ASSERT_EQ(rmdir(Path("d").c_str()), 0) << std::strerror(errno);
  struct stat st = {};
  EXPECT_EQ(ErrnoOf(lstat(Path("d").c_str(), &st)), ENOENT);
  EXPECT_EQ(ErrnoOf(rmdir(Path("d").c_str())), ENOENT);
}

TEST_P(PosixBehaviour, TruncateShrinksAndExtends) {
  WriteFile("t", std::string(100, 'a'));
  ASSERT_EQ(truncate(Path("t").c_str(), 10), 0) << std::strerror(errno);
  EXPECT_EQ(Contents("t"), std::string(10, 'a'));
  ASSERT_EQ(truncate(Path("t").c_str(), 1000), 0);
  EXPECT_EQ(Contents("t"), std::string(10, 'a') + std::string(990, '\0'));
  {
    berth::UniqueFd fd(open(Path("t").c_str(), O_RDWR));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(ftruncate(fd.get(), 5), 0) << std::strerror(errno);
    struct stat st = {};
    ASSERT_EQ(fstat(fd.get(), &st), 0);
    EXPECT_EQ(st.st_size, 5);
  }
  EXPECT_EQ(Contents("t"), "aaaaa");
  // O_TRUNC on open empties the file.
  berth::UniqueFd fd(open(Path("t").c_str(), O_WRONLY | O_TRUNC));
  ASSERT_TRUE(fd.valid());
  fd.Reset();
  EXPECT_EQ(Stat("t").st_size, 0);
}

TEST_P(PosixBehaviour, StatfsReportsSpace) {
  struct statvfs st = {};
  ASSERT_EQ(statvfs(root_.c_str(), &st), 0) << std::strerror(errno);
  EXPECT_GT(st.f_bsize, 0u);
  EXPECT_GT(st.f_blocks, 0u);
  EXPECT_LE(st.f_bfree, st.f_blocks);
  EXPECT_LE(st.f_bavail, st.f_bfree);
  EXPECT_GT(st.f_namemax, 0u);
  EXPECT_EQ(st.f_flag & ST_RDONLY, 0u);
}

TEST_P(PosixBehaviour, FsyncSucceedsAndDataIsThere) {
  berth::UniqueFd fd(open(Path("synced").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.valid()) << std::strerror(errno);
  const std::string data(1 << 20, 'z');
  ASSERT_EQ(write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(fsync(fd.get()), 0) << std::strerror(errno);
  EXPECT_EQ(fdatasync(fd.get()), 0) << std::strerror(errno);
  berth::UniqueFd dir(open(root_.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(dir.valid());
  EXPECT_EQ(fsync(dir.get()), 0) << std::strerror(errno);
  fd.Reset();
  EXPECT_EQ(Contents("synced"), data);
}

// berth-nfs-fuse remembers directory handles by path: its own rename must send later calls on
// the old path to the directory now there, not to the renamed one.
TEST_P(PosixBehaviour, ARenamedDirectorysOldPathNamesTheNewDirectory) {
  ASSERT_EQ(mkdir(Path("d").c_str(), 0755), 0) << std::strerror(errno);
  WriteFile("d/first", "1");
  ASSERT_EQ(rename(Path("d").c_str(), Path("moved").c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(mkdir(Path("d").c_str(), 0755), 0) << std::strerror(errno);
  WriteFile("d/second", "2");
  EXPECT_EQ(Contents("moved/first"), "1");
  EXPECT_EQ(Contents("d/second"), "2");
  struct stat st = {};
  EXPECT_EQ(lstat(Path("moved/second").c_str(), &st), -1) << "created in the renamed directory";
  EXPECT_EQ(lstat(Path("d/first").c_str(), &st), -1);
  // rmdir, then a directory of the same name: the same.
  ASSERT_EQ(unlink(Path("d/second").c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(rmdir(Path("d").c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(mkdir(Path("d").c_str(), 0755), 0) << std::strerror(errno);
  WriteFile("d/third", "3");
  EXPECT_EQ(Contents("d/third"), "3");
}

// Another host replaced a directory this mount had just used: the handle remembered for its
// path is stale on the server. The next create in it must land in the new directory, at once
// (a stale handle is dropped and the path looked up again), not fail with ESTALE.
TEST_P(PosixBehaviour, ADirectoryAnotherHostReplacedIsFoundAgain) {
  ASSERT_EQ(mkdir(Path("d").c_str(), 0755), 0) << std::strerror(errno);
  WriteFile("d/before", "1");
  fs::remove_all(OtherHostPath("d"));
  ASSERT_EQ(mkdir(OtherHostPath("d").c_str(), 0755), 0) << std::strerror(errno);
  WriteFile("d/after", "2");
  EXPECT_EQ(ReadText(OtherHostPath("d/after")), "2") << "not in the directory now at d";
  EXPECT_EQ(Contents("d/after"), "2");
  // Two levels: the stale handle is the parent's parent, remembered on the way to d2/sub.
  ASSERT_EQ(mkdir(Path("d2").c_str(), 0755), 0) << std::strerror(errno);
  ASSERT_EQ(mkdir(Path("d2/sub").c_str(), 0755), 0) << std::strerror(errno);
  WriteFile("d2/sub/before", "1");
  fs::remove_all(OtherHostPath("d2"));
  ASSERT_TRUE(fs::create_directories(OtherHostPath("d2/sub")));
  WriteFile("d2/sub/after", "2");
  EXPECT_EQ(ReadText(OtherHostPath("d2/sub/after")), "2");
}

// A directory another host renamed away, with a new one at its old path: within the entry
// timeout (1 s, as long as the kernel trusts its own name cache) the mount may still use the
// old one; after it, every create lands in the new one.
TEST_P(PosixBehaviour, ADirectoryAnotherHostRenamedShowsWithinTheEntryTimeout) {
  ASSERT_EQ(mkdir(Path("d").c_str(), 0755), 0) << std::strerror(errno);
  WriteFile("d/before", "1");
  ASSERT_EQ(rename(OtherHostPath("d").c_str(), OtherHostPath("moved").c_str()), 0)
      << std::strerror(errno);
  ASSERT_EQ(mkdir(OtherHostPath("d").c_str(), 0755), 0) << std::strerror(errno);
  std::this_thread::sleep_for(1100ms);
  WriteFile("d/after", "2");
  EXPECT_EQ(ReadText(OtherHostPath("d/after")), "2") << "not in the directory now at d";
  struct stat st = {};
  EXPECT_EQ(lstat(OtherHostPath("moved/after").c_str(), &st), -1)
      << "created in the directory another host renamed away";
}

// Writes are answered before the server has them (write-behind, as the kernel NFS client
// answers from its page cache), so an error the server returns later must still reach the
// program: at its next write, fsync or close. Here the file is removed by another host, which
// NFSv3 turns into ESTALE for this one (docs/user-guide.md); locally, an open file outlives its
// name and both calls succeed.
TEST_P(PosixBehaviour, AWriteTheServerRefusesLaterFailsTheCloseAtTheLatest) {
  berth::UniqueFd fd(open(Path("victim").c_str(), O_WRONLY | O_CREAT, 0644));
  ASSERT_TRUE(fd.valid()) << std::strerror(errno);
  ASSERT_EQ(write(fd.get(), "a", 1), 1) << std::strerror(errno);
  ASSERT_EQ(fsync(fd.get()), 0) << std::strerror(errno);
  ASSERT_EQ(unlink(OtherHostPath("victim").c_str()), 0) << std::strerror(errno);
  const ssize_t written = write(fd.get(), "b", 1);
  const int write_errno = written < 0 ? errno : 0;
  const int closed = close(fd.Release());
  const int close_errno = closed != 0 ? errno : 0;
  if (GetParam() == Target::kLocal) {
    EXPECT_EQ(written, 1) << std::strerror(write_errno);
    EXPECT_EQ(closed, 0) << std::strerror(close_errno);
    return;
  }
  if (written < 0) {
    EXPECT_EQ(write_errno, ESTALE) << std::strerror(write_errno);
  } else {
    EXPECT_EQ(closed, -1) << "a write the server refused was reported by nothing";
    EXPECT_EQ(close_errno, ESTALE) << std::strerror(close_errno);
  }
}

// Link counts and ctime right after link, unlink and rename, within the attribute cache's
// second: the mount's own changes must show at once.
TEST_P(PosixBehaviour, LinkCountsAndCtimeFollowLinkUnlinkAndRename) {
  WriteFile("f", "x");
  const ino_t inode = Stat("f").st_ino;
  timespec before = Ctime(Path("f"));
  // Timestamps come from a coarse clock (a few ms): let it tick between steps.
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(link(Path("f").c_str(), Path("g").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(Stat("f").st_nlink, 2U);
  EXPECT_EQ(Stat("g").st_nlink, 2U);
  EXPECT_EQ(Stat("g").st_ino, inode);
  EXPECT_TRUE(Later(Ctime(Path("f")), before)) << "link did not change ctime";
  before = Ctime(Path("f"));
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(unlink(Path("g").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(Stat("f").st_nlink, 1U);
  EXPECT_TRUE(Later(Ctime(Path("f")), before)) << "unlink did not change the file's ctime";
  before = Ctime(Path("f"));
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(rename(Path("f").c_str(), Path("h").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(Stat("h").st_nlink, 1U);
  EXPECT_TRUE(Later(Ctime(Path("h")), before)) << "rename did not change ctime";
  ASSERT_EQ(mkdir(Path("d").c_str(), 0755), 0) << std::strerror(errno);
  EXPECT_EQ(Stat("d").st_nlink, 2U);
  ASSERT_EQ(mkdir(Path("d/sub").c_str(), 0755), 0) << std::strerror(errno);
  EXPECT_EQ(Stat("d").st_nlink, 3U) << "a subdirectory's \"..\" counts";
}

// NAME_MAX (255) per component and PATH_MAX (4096) per path, in every call family.
TEST_P(PosixBehaviour, NamesAndPathsOverTheLimitsFailWithENAMETOOLONG) {
  const std::string longest(255, 'n');
  const std::string too_long(256, 'n');
  WriteFile(longest, "x");
  EXPECT_EQ(Contents(longest), "x");
  struct stat st = {};
  errno = 0;
  EXPECT_EQ(lstat(Path(too_long).c_str(), &st), -1);
  EXPECT_EQ(errno, ENAMETOOLONG) << std::strerror(errno);
  EXPECT_EQ(OpenErrno(Path(too_long), O_WRONLY | O_CREAT), ENAMETOOLONG);
  EXPECT_EQ(mkdir(Path(too_long).c_str(), 0755) == 0 ? 0 : errno, ENAMETOOLONG);
  EXPECT_EQ(symlink("x", Path(too_long).c_str()) == 0 ? 0 : errno, ENAMETOOLONG);
  EXPECT_EQ(link(Path(longest).c_str(), Path(too_long).c_str()) == 0 ? 0 : errno, ENAMETOOLONG);
  EXPECT_EQ(rename(Path(longest).c_str(), Path(too_long).c_str()) == 0 ? 0 : errno, ENAMETOOLONG);
  EXPECT_EQ(mkfifo(Path(too_long).c_str(), 0644) == 0 ? 0 : errno, ENAMETOOLONG);
  EXPECT_EQ(unlink(Path(too_long).c_str()) == 0 ? 0 : errno, ENAMETOOLONG);
  std::string deep = root_;
  while (deep.size() <= PATH_MAX) {
    deep += "/" + longest;
  }
  EXPECT_EQ(OpenErrno(deep, O_RDONLY), ENAMETOOLONG);
  EXPECT_EQ(mkdir(deep.c_str(), 0755) == 0 ? 0 : errno, ENAMETOOLONG);
}

// open(2) by a user who is neither root nor the owner: the mode's other and owner classes.
TEST_P(PosixBehaviour, OpenByAnotherUserFollowsTheModeBits) {
  ASSERT_NO_FATAL_FAILURE(OpenTheWayForOtherUsers());
  WriteFile("r644", "x", 0644);
  WriteFile("p600", "x", 0600);
  WriteFile("w646", "x", 0646);
  WriteFile("o204", "x", 0644);
  ASSERT_EQ(chmod(Path("r644").c_str(), 0644), 0);  // the creation modes met root's umask
  ASSERT_EQ(chmod(Path("w646").c_str(), 0646), 0);
  ASSERT_EQ(chown(Path("o204").c_str(), kOtherUser, 0), 0) << std::strerror(errno);
  ASSERT_EQ(chmod(Path("o204").c_str(), 0204), 0);
  const struct {
    const char* name;
    int flags;
    int expected;
  } cases[] = {
      {"r644", O_RDONLY, 0},
      {"r644", O_WRONLY, EACCES},
      {"r644", O_RDWR, EACCES},
      {"r644", O_RDONLY | O_TRUNC, EACCES},
      {"p600", O_RDONLY, EACCES},
      {"p600", O_WRONLY, EACCES},
      {"w646", O_RDONLY, 0},
      {"w646", O_WRONLY, 0},
      {"w646", O_RDWR, 0},
      // The owner class decides for the owner, even where others may read.
      {"o204", O_RDONLY, EACCES},
      {"o204", O_WRONLY, 0},
      {"o204", O_RDWR, EACCES},
  };
  for (const auto& c : cases) {
    const std::string path = Path(c.name);
    EXPECT_EQ(AsOtherUser([&] { return OpenErrno(path, c.flags); }), c.expected)
        << c.name << " flags " << c.flags;
  }
  EXPECT_EQ(Contents("r644"), "x") << "a refused O_TRUNC emptied the file";
}

// mkfifo makes a FIFO, mknod a regular file (and refuses an existing name).
TEST_P(PosixBehaviour, MkfifoAndMknodMakeWhatTheyAskFor) {
  ASSERT_EQ(mkfifo(Path("fifo").c_str(), 0640), 0) << std::strerror(errno);
  EXPECT_TRUE(S_ISFIFO(Stat("fifo").st_mode));
  EXPECT_EQ(Stat("fifo").st_mode & 07777, 0640U);
  ASSERT_EQ(mknod(Path("plain").c_str(), S_IFREG | 0640, 0), 0) << std::strerror(errno);
  EXPECT_TRUE(S_ISREG(Stat("plain").st_mode));
  EXPECT_EQ(Stat("plain").st_mode & 07777, 0640U);
  EXPECT_EQ(Stat("plain").st_size, 0);
  EXPECT_EQ(mknod(Path("plain").c_str(), S_IFREG | 0640, 0) == 0 ? 0 : errno, EEXIST);
  EXPECT_EQ(mkfifo(Path("fifo").c_str(), 0640) == 0 ? 0 : errno, EEXIST);
}

// utimensat(2): UTIME_NOW and UTIME_OMIT, and who may do what. The owner may set any time;
// another user who may write the file may only touch both to "now".
TEST_P(PosixBehaviour, UtimensatNowOmitAndWhoMaySetWhat) {
  ASSERT_NO_FATAL_FAILURE(OpenTheWayForOtherUsers());
  WriteFile("f", "x");
  const timespec past[2] = {{1'600'000'000, 0}, {1'600'000'100, 0}};
  ASSERT_EQ(UtimensErrno(Path("f"), past), 0);
  const timespec now_mtime_only[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_EQ(UtimensErrno(Path("f"), now_mtime_only), 0);
  struct stat st = Stat("f");
  EXPECT_EQ(st.st_atim.tv_sec, 1'600'000'000) << "UTIME_OMIT changed atime";
  EXPECT_LT(std::abs(st.st_mtim.tv_sec - time(nullptr)), 60) << "UTIME_NOW is not now";

  WriteFile("shared", "x");
  ASSERT_EQ(chmod(Path("shared").c_str(), 0666), 0);
  const std::string shared = Path("shared");
  const std::string mine_only = Path("f");  // 0644: others may not write
  const timespec now_both[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  const timespec now_and_omit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  EXPECT_EQ(AsOtherUser([&] { return UtimensErrno(shared, now_both); }), 0);
  EXPECT_EQ(AsOtherUser([&] { return UtimensErrno(shared, nullptr); }), 0);
  EXPECT_EQ(AsOtherUser([&] { return UtimensErrno(shared, past); }), EPERM);
  EXPECT_EQ(AsOtherUser([&] { return UtimensErrno(shared, now_and_omit); }), EPERM);
  EXPECT_EQ(AsOtherUser([&] { return UtimensErrno(mine_only, now_both); }), EACCES);
  EXPECT_EQ(Stat("shared").st_mtim.tv_sec == 1'600'000'100, false);
}

// chmod(2) by an owner outside the file's group cannot set set-group-ID: the bit is dropped.
TEST_P(PosixBehaviour, ChmodBySomeoneOutsideTheGroupDropsSetgid) {
  ASSERT_NO_FATAL_FAILURE(OpenTheWayForOtherUsers());
  WriteFile("f", "x");
  ASSERT_EQ(chown(Path("f").c_str(), kOtherUser, 0), 0) << std::strerror(errno);
  const std::string path = Path("f");
  EXPECT_EQ(AsOtherUser([&] { return chmod(path.c_str(), 02755) == 0 ? 0 : errno; }), 0);
  EXPECT_EQ(Stat("f").st_mode & 07777, 0755U) << "set-group-ID kept";
  // Root may, and the owner inside the group may.
  ASSERT_EQ(chmod(path.c_str(), 02755), 0);
  EXPECT_EQ(Stat("f").st_mode & 07777, 02755U);
}

INSTANTIATE_TEST_SUITE_P(Targets, PosixBehaviour, ::testing::Values(Target::kLocal, Target::kNfs),
                         [](const ::testing::TestParamInfo<Target>& info) {
                           return info.param == Target::kLocal ? "LocalReference" : "BerthNfsFuse";
                         });

}  // namespace
