// The test watchdog run as ctest runs it: around a command that blocks in D state on purpose,
// and around commands that do not.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>

#include "common/subprocess.h"

namespace berth::testing {
namespace {

using Clock = std::chrono::steady_clock;

TEST(Watchdog, ABlockedTestFailsWithinItsBoundWithTheStacksPrinted) {
  constexpr int kBound = 3;
  const auto start = Clock::now();
  auto result =
      RunCommand({BERTH_WATCHDOG_PATH, "--bound", std::to_string(kBound), "--", BERTH_BLOCKER_PATH},
                 std::chrono::seconds(120));
  const auto took = Clock::now() - start;
  const std::string out = result.out + result.err;

  EXPECT_EQ(result.exit_code, 124) << out;
  // Within its bound (plus a sample or two), far from ctest's 600 s timeout.
  EXPECT_GE(took, std::chrono::seconds(kBound));
  EXPECT_LT(took, std::chrono::seconds(kBound + 30)) << out;

  std::smatch pid;
  ASSERT_TRUE(std::regex_search(out, pid, std::regex("vfork_blocker: pid ([0-9]+) blocks"))) << out;
  EXPECT_NE(out.find("watchdog: pid " + pid[1].str() + " (berth_vfork_blo"), std::string::npos)
      << out;
  EXPECT_NE(out.find("in this test's process tree, has been in D state"), std::string::npos) << out;
  // Its kernel stack, wait channel and the mounts are in the test's output.
  const auto entry = out.find("--- pid " + pid[1].str());
  ASSERT_NE(entry, std::string::npos) << out;
  const auto stack = out.find("stack:\n", entry);
  ASSERT_NE(stack, std::string::npos) << out;
  // The frames of its vfork wait (kernel_clone, __do_sys_clone or vfork itself).
  EXPECT_NE(out.substr(stack, 400).find("clone"), std::string::npos)
      << "no clone/vfork frame in the stack: " << out.substr(stack, 400);
  EXPECT_NE(out.find("watchdog: mountinfo:"), std::string::npos) << out;
  // And it is gone: the watchdog killed the test's process group.
  const pid_t blocked = std::stoi(pid[1].str());
  for (int i = 0; i < 100 && ::kill(blocked, 0) == 0; ++i) {
    ::usleep(50 * 1000);
  }
  EXPECT_NE(::kill(blocked, 0), 0) << "pid " << blocked << " outlived the watchdog";
}

TEST(Watchdog, PassesTheCommandsOutputAndExitStatusThrough) {
  auto result =
      RunCommand({BERTH_WATCHDOG_PATH, "--", "sh", "-c", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(result.exit_code, 7);
  EXPECT_EQ(result.out, "out\nerr\n");
  EXPECT_EQ(RunCommand({BERTH_WATCHDOG_PATH, "true"}).exit_code, 0);
  EXPECT_EQ(RunCommand({BERTH_WATCHDOG_PATH, "sh", "-c", "kill -TERM $$"}).exit_code,
            128 + SIGTERM);
}

TEST(Watchdog, ABackgroundProcessLeftHoldingTheOutputDoesNotHoldTheTest) {
  const auto start = Clock::now();
  auto result = RunCommand({BERTH_WATCHDOG_PATH, "sh", "-c", "sleep 30 & echo started"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "started\n");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(20));
}

TEST(Watchdog, RefusesAMissingCommandClearly) {
  auto result = RunCommand({BERTH_WATCHDOG_PATH, "--bound", "5"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("usage: berth-test-watchdog"), std::string::npos);
  result = RunCommand({BERTH_WATCHDOG_PATH, "/nonexistent/command"});
  EXPECT_EQ(result.exit_code, 127);
  EXPECT_NE(result.out.find("cannot run /nonexistent/command"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace berth::testing
