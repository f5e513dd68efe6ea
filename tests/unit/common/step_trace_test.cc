#include "common/step_trace.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace berth {
namespace {

TEST(StepTrace, NamesEachMarkedStepAndTheTotalInOrder) {
  StepTrace trace("mount db");
  TraceStep("lock");
  TraceStep("map");
  const std::string summary = trace.Summary();
  const auto lock = summary.find("lock ");
  const auto map = summary.find("map ");
  const auto total = summary.find("total ");
  ASSERT_NE(lock, std::string::npos) << summary;
  ASSERT_NE(map, std::string::npos) << summary;
  ASSERT_NE(total, std::string::npos) << summary;
  EXPECT_LT(lock, map);
  EXPECT_LT(map, total);
}

TEST(StepTrace, AddsUpARepeatedStepUnderOneName) {
  StepTrace trace("attach");
  TraceStep("state");
  TraceStep("map");
  TraceStep("state");
  const std::string summary = trace.Summary();
  EXPECT_EQ(summary.find("state "), summary.rfind("state ")) << summary;
}

TEST(StepTrace, TimesAStepThatSleeps) {
  StepTrace trace("attach");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  TraceStep("sleep");
  const std::string summary = trace.Summary();
  // "sleep 20.1 ms": at least the time slept (a lower bound only; no upper bound is asserted).
  const auto at = summary.find("sleep ");
  ASSERT_NE(at, std::string::npos) << summary;
  EXPECT_GE(std::stod(summary.substr(at + 6)), 20.0) << summary;
}

TEST(StepTrace, MarksOnlyTheInnermostTraceOfThisThread) {
  StepTrace outer("mount");
  {
    StepTrace inner("attach");
    TraceStep("map");
    EXPECT_NE(inner.Summary().find("map "), std::string::npos);
  }
  TraceStep("mount");
  const std::string summary = outer.Summary();
  EXPECT_EQ(summary.find("map "), std::string::npos) << summary;
  EXPECT_NE(summary.find("mount "), std::string::npos) << summary;
}

TEST(StepTrace, MarkWithoutATraceDoesNothing) {
  TraceStep("nowhere");  // no trace on this thread: must not crash
  std::thread([] { TraceStep("elsewhere"); }).join();
  StepTrace trace("after");
  EXPECT_EQ(trace.Summary().find("nowhere"), std::string::npos);
}

}  // namespace
}  // namespace berth
