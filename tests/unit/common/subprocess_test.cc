#include "common/subprocess.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "tests/unit/expect_error.h"

namespace berth {
namespace {

using ::berth::testing::ExpectError;
using ::testing::ElementsAre;
using namespace std::chrono_literals;

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-common-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  std::string dir_;
};

// Polls `done` for up to `limit`.
template <typename F>
bool WaitFor(F done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// RunCommand

// Signal dispositions as a server has them, for the scope: SIGUSR1 ignored, SIGUSR2 blocked in
// this thread. A helper berth starts must inherit neither (an ignored signal survives exec).
class ServerSignals {
 public:
  ServerSignals() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    EXPECT_EQ(::sigaction(SIGUSR1, &ignore, &old_usr1_), 0);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    EXPECT_EQ(::pthread_sigmask(SIG_BLOCK, &usr2, &old_mask_), 0);
  }
  ~ServerSignals() {
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    ::sigaction(SIGUSR1, &old_usr1_, nullptr);
  }
  ServerSignals(const ServerSignals&) = delete;
  ServerSignals& operator=(const ServerSignals&) = delete;

 private:
  struct sigaction old_usr1_ {};
  sigset_t old_mask_{};
};

// A shell command that prints its SigBlk and SigIgn lines, and the check of what it printed.
constexpr const char* kPrintSignals = "grep -E '^Sig(Blk|Ign):' /proc/$$/status | tr -d ' \\t'";
void ExpectNoSignalBlockedOrIgnored(const std::string& printed) {
  EXPECT_NE(printed.find("SigBlk:0000000000000000"), std::string::npos) << printed;
  const auto ign = printed.find("SigIgn:");
  ASSERT_NE(ign, std::string::npos) << printed;
  const uint64_t ignored = std::stoull(printed.substr(ign + 7, 16), nullptr, 16);
  EXPECT_EQ(ignored & (uint64_t{1} << (SIGUSR1 - 1)), 0u) << printed;
}

TEST(RunCommand, CapturesStdoutStderrAndExitCode) {
  const CommandResult result = RunCommand({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(result.out, "out\n");
  EXPECT_EQ(result.err, "err\n");
  EXPECT_EQ(result.exit_code, 3);
}

TEST(RunCommand, ZeroExitAndArgumentsAreNotShellSplit) {
  const CommandResult result = RunCommand({"printf", "%s|", "a b", "$HOME", ";"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "a b|$HOME|;|");
  EXPECT_EQ(result.err, "");
}

TEST(RunCommand, LargeOutputOnBothStreamsDoesNotDeadlock) {
  // More than a pipe buffer on each stream, interleaved.
  const CommandResult result =
      RunCommand({"/bin/sh", "-c",
                  "i=0; while [ $i -lt 2000 ]; do echo 0123456789012345678901234567890123456789; "
                  "echo abcdefghijabcdefghijabcdefghijabcdefghij >&2; i=$((i+1)); done"},
                 30s);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out.size(), 2000u * 41);
  EXPECT_EQ(result.err.size(), 2000u * 41);
}

TEST(RunCommand, StdinIsDevNull) {
  const CommandResult result = RunCommand({"cat"}, 10s);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "");
}

TEST(RunCommand, SignalDeathIs128PlusSignal) {
  const CommandResult result = RunCommand({"/bin/sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(result.exit_code, 128 + SIGTERM);
}

TEST(RunCommand, MissingBinaryIsUnavailable) {
  ExpectError([] { RunCommand({"berth-no-such-binary-for-tests"}); }, ErrorCode::kUnavailable,
              {"berth-no-such-binary-for-tests", "not installed"});
  ExpectError(
      [] {
        RunCommand({"/nonexistent/bin/tool", "x"});
      },
      ErrorCode::kUnavailable, {"/nonexistent/bin/tool"});
}

TEST(RunCommand, StartsWithNoSignalBlockedOrIgnoredAndNoFdOfOurs) {
  // berthd ignores SIGPIPE and blocks signals in some threads; e2fsck and mkfs must not inherit
  // either, nor any descriptor that is not close-on-exec.
  const int opened = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(opened, 0);
  const int inheritable = ::fcntl(opened, F_DUPFD, 100);  // a duplicate is not close-on-exec
  ::close(opened);
  ASSERT_GE(inheritable, 100);
  const std::string fd = "/proc/$$/fd/" + std::to_string(inheritable);
  CommandResult result;
  {
    const ServerSignals server;
    result = RunCommand(
        {"/bin/sh", "-c",
         std::string(kPrintSignals) + "; test -e " + fd + " && echo fd:kept || echo fd:closed"});
  }
  ::close(inheritable);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ExpectNoSignalBlockedOrIgnored(result.out);
  EXPECT_NE(result.out.find("fd:closed"), std::string::npos) << result.out;
}

TEST(RunCommand, EmptyArgvIsInternal) {
  ExpectError([] { RunCommand({}); }, ErrorCode::kInternal, {"empty argv"});
}

TEST(RunCommand, TimeoutKillsAndThrows) {
  const auto start = std::chrono::steady_clock::now();
  ExpectError(
      [] {
        RunCommand({"sleep", "30"}, 300ms);
      },
      ErrorCode::kDeadlineExceeded, {"sleep 30", "killed"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  // The killed child was reaped: no zombie child of ours is left.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(JoinCommand, JoinsWithSpaces) {
  EXPECT_EQ(JoinCommand({"rbd", "device", "map", "volumes/db"}), "rbd device map volumes/db");
  EXPECT_EQ(JoinCommand({}), "");
}

// ---------------------------------------------------------------------------------------------
// SpawnDetached / ProcessAlive

TEST_F(TempDir, SpawnDetachedRunsInItsOwnSession) {
  const pid_t pid = SpawnDetached({"sleep", "5"}, dir_ + "/sleep.log");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(ProcessAlive(pid));
  const pid_t sid = ::getsid(pid);
  ASSERT_GT(sid, 0);
  EXPECT_NE(sid, ::getsid(0));
  // Not our child: berthd restarting must not be its parent's business.
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);

  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // Reaped by init (or a subreaper) or left a zombie: either way it is gone.
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, 5s));
}

TEST_F(TempDir, SpawnDetachedAppendsOutputToTheLog) {
  const std::string log = dir_ + "/tool.log";
  WriteFileAtomically(log, "earlier\n");
  const pid_t pid = SpawnDetached({"/bin/sh", "-c", "echo out; echo err >&2"}, log);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, 5s));
  EXPECT_TRUE(WaitFor([&] { return ReadFileIfExists(log).value_or("").size() >= 16; }, 5s));
  EXPECT_EQ(ReadFileIfExists(log).value_or(""), "earlier\nout\nerr\n");
}

TEST_F(TempDir, SpawnDetachedStartsWithNoSignalBlockedOrIgnored) {
  const std::string log = dir_ + "/signals.log";
  pid_t pid = -1;
  {
    const ServerSignals server;
    pid = SpawnDetached({"/bin/sh", "-c", kPrintSignals}, log);
  }
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitFor([&] { return ReadFileIfExists(log).value_or("").size() >= 40; }, 5s));
  ExpectNoSignalBlockedOrIgnored(ReadFileIfExists(log).value_or(""));
}

TEST_F(TempDir, StopDetachedStopsOnlyTheNamedProgramWithItsArgument) {
  const pid_t pid = SpawnDetached({"/bin/sleep", "30"}, dir_ + "/sleep.log");
  // Until the detached child execs, it still runs this test binary.
  for (int i = 0; i < 200 && !ProcessRuns(pid, "sleep"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ProcessRuns(pid, "sleep")) << "argv[0]'s base name counts";
  EXPECT_FALSE(ProcessRuns(pid, "rbd-fuse"));
  EXPECT_EQ(ProcessArgv(pid), (std::vector<std::string>{"/bin/sleep", "30"}));
  EXPECT_TRUE(ProcessRunsWith(pid, "sleep", "30"));
  EXPECT_FALSE(ProcessRunsWith(pid, "sleep", "3")) << "whole arguments only";
  EXPECT_FALSE(ProcessRunsWith(pid, "sleep", "/bin/sleep")) << "argv[0] is not an argument";
  StopDetached(pid, "rbd-fuse", "30", std::chrono::milliseconds(10));
  EXPECT_TRUE(ProcessAlive(pid)) << "a pid running another program is never signalled";
  StopDetached(pid, "sleep", "31", std::chrono::milliseconds(10));
  EXPECT_TRUE(ProcessAlive(pid)) << "the same program serving something else is never signalled";
  StopDetached(pid, "sleep", "30", std::chrono::milliseconds(10));
  EXPECT_FALSE(ProcessAlive(pid)) << "one that outlives the grace period is terminated";
  EXPECT_TRUE(ProcessArgv(pid).empty());
}

TEST_F(TempDir, FileTailKeepsTheEnd) {
  WriteFileAtomically(dir_ + "/log", "0123456789");
  EXPECT_EQ(FileTail(dir_ + "/log", 4), "6789");
  EXPECT_EQ(FileTail(dir_ + "/log"), "0123456789");
  EXPECT_EQ(FileTail(dir_ + "/missing"), "");
}

TEST(SpawnDetached, EmptyArgvIsInternal) {
  ExpectError([] { SpawnDetached({}, "/dev/null"); }, ErrorCode::kInternal, {"empty argv"});
}

TEST(ProcessAlive, SelfIsAliveAndNonPositivePidsAreNot) {
  EXPECT_TRUE(ProcessAlive(::getpid()));
  EXPECT_FALSE(ProcessAlive(0));
  EXPECT_FALSE(ProcessAlive(-1));
}

TEST(ProcessAlive, ZombieCountsAsGone) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::_exit(0);
  }
  // Not reaped yet: a zombie.
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(child); }, 5s));
  EXPECT_EQ(::waitpid(child, nullptr, 0), child);
  EXPECT_FALSE(ProcessAlive(child));
}

// ---------------------------------------------------------------------------------------------
// WriteFileAtomically / ReadFileIfExists

TEST_F(TempDir, WriteThenReadBack) {
  const std::string path = dir_ + "/state.json";
  WriteFileAtomically(path, "{\"a\": 1}\n");
  EXPECT_EQ(ReadFileIfExists(path), std::optional<std::string>("{\"a\": 1}\n"));
  WriteFileAtomically(path, "second");
  EXPECT_EQ(ReadFileIfExists(path), std::optional<std::string>("second"));
  EXPECT_THAT(Entries(), ElementsAre("state.json"));
}

TEST_F(TempDir, BinaryAndEmptyContent) {
  const std::string path = dir_ + "/blob";
  const std::string binary("a\0b\xff", 4);
  WriteFileAtomically(path, binary);
  EXPECT_EQ(ReadFileIfExists(path), std::optional<std::string>(binary));
  WriteFileAtomically(path, "");
  EXPECT_EQ(ReadFileIfExists(path), std::optional<std::string>(""));
}

TEST_F(TempDir, WriteUsesTheGivenMode) {
  const std::string path = dir_ + "/file";
  const mode_t old_umask = ::umask(022);
  WriteFileAtomically(path, "x");
  WriteFileAtomically(dir_ + "/public", "x", 0644);
  ::umask(old_umask);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/public").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(TempDir, WriteIntoMissingDirectoryFailsAndNamesIt) {
  ExpectError([&] { WriteFileAtomically(dir_ + "/missing/file", "x"); }, ErrorCode::kNotFound,
              {dir_ + "/missing/file"});
  EXPECT_TRUE(Entries().empty());
}

TEST_F(TempDir, ReadOfMissingFileIsNullopt) {
  EXPECT_EQ(ReadFileIfExists(dir_ + "/absent"), std::nullopt);
  EXPECT_EQ(ReadFileIfExists(dir_ + "/absent-dir/file"), std::nullopt);
}

TEST_F(TempDir, ReadOfADirectoryThrows) {
  // Not an empty file: a config or state path that names a directory is an error.
  ExpectError([&] { ReadFileIfExists(dir_); }, ErrorCode::kInternal, {"cannot read " + dir_});
}

TEST_F(TempDir, FailedWriteLeavesNoTempFileAndKeepsTheOldContent) {
  const std::string path = dir_ + "/state.json";
  WriteFileAtomically(path, "old");
  // In a child, so the file size limit and the ignored SIGXFSZ stay there: writes past 16
  // bytes fail with EFBIG, as they would with ENOSPC on a full disk.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const struct rlimit limit = {16, 16};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      WriteFileAtomically(path, std::string(4096, 'x'));
    } catch (const Error&) {
      ::_exit(0);
    }
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the oversized write did not throw";
  EXPECT_THAT(Entries(), ElementsAre("state.json"));
  EXPECT_EQ(ReadFileIfExists(path), std::optional<std::string>("old"));
}

TEST_F(TempDir, MakeDirectoriesCreatesParentsAndIsIdempotent) {
  const std::string path = dir_ + "/a/b/c";
  MakeDirectories(path);
  EXPECT_TRUE(PathExists(path));
  EXPECT_NO_THROW(MakeDirectories(path));
  EXPECT_FALSE(PathExists(dir_ + "/a/b/d"));
}

}  // namespace
}  // namespace berth
