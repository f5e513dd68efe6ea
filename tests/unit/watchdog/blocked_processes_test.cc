#include "tests/support/watchdog/blocked_processes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

namespace berth::testing {
namespace {

using namespace std::chrono_literals;

std::string StatLine(pid_t pid, const std::string& comm, char state, uint64_t utime,
                     uint64_t start) {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice threads itrealvalue starttime vsize ...
  return std::to_string(pid) + " (" + comm + ") " + state + " 1 10 10 0 -1 4194560 100 0 0 0 " +
         std::to_string(utime) + " 3 0 0 20 0 1 0 " + std::to_string(start) + " 1000 200";
}

ProcessSample Sample(pid_t pid, char state, uint64_t utime, uint64_t switches, uint64_t start = 500,
                     pid_t ppid = 1) {
  ProcessSample sample;
  sample.stat = *ParseProcStat(StatLine(pid, "writer", state, utime, start));
  sample.stat.ppid = ppid;
  sample.switches = switches;
  return sample;
}

TEST(ParseProcStat, ReadsTheFieldsAfterTheLastParenthesis) {
  auto stat = ParseProcStat(StatLine(42, "a) (b c", 'D', 7, 12345));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->pid, 42);
  EXPECT_EQ(stat->comm, "a) (b c");
  EXPECT_EQ(stat->state, 'D');
  EXPECT_EQ(stat->ppid, 1);
  EXPECT_EQ(stat->cpu_ticks, 10U);  // utime 7 + stime 3
  EXPECT_EQ(stat->start_time, 12345U);
}

TEST(ParseProcStat, RefusesWhatIsNotAStatLine) {
  EXPECT_FALSE(ParseProcStat("").has_value());
  EXPECT_FALSE(ParseProcStat("42 (short) S 1 2").has_value());
  EXPECT_FALSE(ParseProcStat("x (comm) S 1 10 10 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 6").has_value());
  EXPECT_FALSE(ParseProcStat("42 no parentheses S 1").has_value());
}

TEST(ParseProcStat, ReadsThisProcess) {
  auto samples = SampleProcesses();
  auto self = std::find_if(samples.begin(), samples.end(),
                           [](const ProcessSample& s) { return s.stat.pid == ::getpid(); });
  ASSERT_NE(self, samples.end());
  EXPECT_EQ(self->stat.state, 'R');
  EXPECT_EQ(self->stat.ppid, ::getppid());
  EXPECT_FALSE(self->kernel_thread);
}

TEST(BlockedTracker, AProcessBlockedWithoutProgressIsStuckOnceTheBoundHasPassed) {
  BlockedTracker tracker;
  const auto t0 = BlockedTracker::Clock::time_point{} + 1h;
  tracker.Update({Sample(7, 'D', 5, 100)}, t0);
  tracker.Update({Sample(7, 'D', 5, 100)}, t0 + 59s);
  EXPECT_TRUE(tracker.StuckFor(60s, t0 + 59s).empty());
  tracker.Update({Sample(7, 'D', 5, 100)}, t0 + 60s);
  auto stuck = tracker.StuckFor(60s, t0 + 60s);
  ASSERT_EQ(stuck.size(), 1U);
  EXPECT_EQ(stuck[0].first.pid, 7);
  EXPECT_EQ(stuck[0].second, 60s);
}

TEST(BlockedTracker, ProgressOrLeavingDStateRestartsTheClock) {
  BlockedTracker tracker;
  const auto t0 = BlockedTracker::Clock::time_point{} + 1h;
  tracker.Update({Sample(7, 'D', 5, 100), Sample(8, 'D', 5, 100)}, t0);
  // pid 7 woke once (a busy writer doing fsyncs); pid 8 ran and went back to sleep.
  tracker.Update({Sample(7, 'D', 5, 101), Sample(8, 'S', 5, 100)}, t0 + 30s);
  tracker.Update({Sample(7, 'D', 5, 101), Sample(8, 'D', 5, 100)}, t0 + 40s);
  EXPECT_TRUE(tracker.StuckFor(20s, t0 + 40s).empty());
  tracker.Update({Sample(7, 'D', 5, 101), Sample(8, 'D', 5, 100)}, t0 + 60s);
  auto stuck = tracker.StuckFor(20s, t0 + 60s);
  ASSERT_EQ(stuck.size(), 2U);
  EXPECT_EQ(stuck[0].second, 30s);  // pid 7, since its last wake-up
  EXPECT_EQ(stuck[1].second, 20s);  // pid 8, since it re-entered D
}

TEST(BlockedTracker, AReusedPidIsANewProcessAndKernelThreadsAreIgnored) {
  BlockedTracker tracker;
  const auto t0 = BlockedTracker::Clock::time_point{} + 1h;
  ProcessSample kthread = Sample(9, 'D', 0, 0, 500, 2);
  kthread.kernel_thread = true;
  tracker.Update({Sample(7, 'D', 5, 100, 500), kthread}, t0);
  tracker.Update({Sample(7, 'D', 5, 100, 900), kthread}, t0 + 100s);
  EXPECT_TRUE(tracker.StuckFor(1s, t0 + 100s).empty());
}

TEST(Descendants, FollowsTheTreeFromTheRoot) {
  std::vector<ProcessSample> samples = {Sample(10, 'S', 0, 0, 1, 1), Sample(11, 'S', 0, 0, 1, 10),
                                        Sample(12, 'D', 0, 0, 1, 11), Sample(13, 'S', 0, 0, 1, 1)};
  auto tree = Descendants(samples, 10);
  std::sort(tree.begin(), tree.end());
  EXPECT_EQ(tree, (std::vector<pid_t>{10, 11, 12}));
}

}  // namespace
}  // namespace berth::testing
