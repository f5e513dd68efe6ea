#include "common/metrics/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/strings.h"
#include "tests/unit/expect_error.h"

namespace berth::metrics {
namespace {

using ::berth::testing::ExpectError;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::berth::testing::kInvalid;

TEST(Registry, RendersEveryKindExactly) {
  Registry registry;
  Counter& ops = registry.AddCounter("ops_total", "Operations.", {"operation", "result"});
  Histogram& latency = registry.AddHistogram("op_seconds", "Latency.", {"operation"}, {0.1, 1});
  registry.AddGauge("attached", "Attached volumes.", {"backend"}, [] {
    return std::vector<GaugeSample>{{{"rbd"}, 2}, {{"nfs"}, 0}};
  });
  registry.AddInfo("build_info", "Build.", {"version"}, {"1.2.3"});

  ops.Increment({"mount", "ok"});
  ops.Increment({"mount", "ok"});
  ops.Increment({"create", "error"}, 3);
  latency.Observe({"mount"}, 0.0625);
  latency.Observe({"mount"}, 0.09375);
  latency.Observe({"mount"}, 0.5);
  latency.Observe({"mount"}, 7);

  EXPECT_EQ(registry.Render(),
            "# HELP ops_total Operations.\n"
            "# TYPE ops_total counter\n"
            "ops_total{operation=\"create\",result=\"error\"} 3\n"
            "ops_total{operation=\"mount\",result=\"ok\"} 2\n"
            "# HELP op_seconds Latency.\n"
            "# TYPE op_seconds histogram\n"
            "op_seconds_bucket{operation=\"mount\",le=\"0.1\"} 2\n"
            "op_seconds_bucket{operation=\"mount\",le=\"1\"} 3\n"
            "op_seconds_bucket{operation=\"mount\",le=\"+Inf\"} 4\n"
            "op_seconds_sum{operation=\"mount\"} 7.65625\n"
            "op_seconds_count{operation=\"mount\"} 4\n"
            "# HELP attached Attached volumes.\n"
            "# TYPE attached gauge\n"
            "attached{backend=\"nfs\"} 0\n"
            "attached{backend=\"rbd\"} 2\n"
            "# HELP build_info Build.\n"
            "# TYPE build_info gauge\n"
            "build_info{version=\"1.2.3\"} 1\n");
}

TEST(Registry, FamiliesWithoutSeriesRenderOnlyTheirHeader) {
  Registry registry;
  registry.AddCounter("idle_total", "Nothing yet.", {"x"});
  registry.AddHistogram("idle_seconds", "Nothing yet.", {}, {1});
  EXPECT_EQ(registry.Render(),
            "# HELP idle_total Nothing yet.\n# TYPE idle_total counter\n"
            "# HELP idle_seconds Nothing yet.\n# TYPE idle_seconds histogram\n");
}

TEST(Registry, EscapesLabelValuesInOutput) {
  Registry registry;
  Counter& c = registry.AddCounter("c_total", "C.", {"v"});
  c.Increment({"a\"b\\c\nd"});
  EXPECT_THAT(registry.Render(), HasSubstr("c_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(Counter, TouchMakesASeriesAtZero) {
  Registry registry;
  Counter& c = registry.AddCounter("errors_total", "E.", {"category"});
  c.Touch({"busy"});
  EXPECT_EQ(c.Value({"busy"}), 0u);
  EXPECT_THAT(registry.Render(), HasSubstr("errors_total{category=\"busy\"} 0\n"));
  c.Increment({"busy"});
  c.Touch({"busy"});
  EXPECT_EQ(c.Value({"busy"}), 1u);
  EXPECT_EQ(c.Value({"never"}), 0u);
}

TEST(Histogram, BucketsCountValuesUpToAndIncludingTheirBound) {
  Registry registry;
  Histogram& h = registry.AddHistogram("h_seconds", "H.", {}, {0.005, 0.01, 1});
  for (double v : {0.0, 0.005, 0.0050001, 0.01, 0.5, 1.0, 1.5, 300.0}) {
    h.Observe({}, v);
  }
  Histogram::Totals totals = h.Get({});
  EXPECT_THAT(totals.cumulative, ElementsAre(2u, 4u, 6u, 8u));
  EXPECT_EQ(totals.count, 8u);
  EXPECT_DOUBLE_EQ(totals.sum, 0.005 + 0.0050001 + 0.01 + 0.5 + 1.0 + 1.5 + 300.0);
  EXPECT_THAT(h.Get({}).cumulative.back(), totals.count);

  Histogram::Totals none = registry.AddHistogram("g_seconds", "G.", {"x"}, {1}).Get({"y"});
  EXPECT_THAT(none.cumulative, ElementsAre(0u, 0u));
  EXPECT_EQ(none.count, 0u);
}

TEST(Histogram, StorageBucketsSpanMillisecondsToMinutes) {
  const auto& bounds = StorageLatencyBuckets();
  EXPECT_EQ(bounds.front(), 0.005);
  EXPECT_EQ(bounds.back(), 120);
  EXPECT_TRUE(std::is_sorted(bounds.begin(), bounds.end()));
  Registry registry;
  Histogram& h = registry.AddHistogram("s_seconds", "S.", {}, bounds);
  h.Observe({}, 0.2);
  const std::string out = registry.Render();
  EXPECT_THAT(out, HasSubstr("s_seconds_bucket{le=\"0.1\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("s_seconds_bucket{le=\"0.25\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("s_seconds_bucket{le=\"120\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("s_seconds_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("s_seconds_sum 0.2\n"));
}

TEST(Registry, RefusesBadDefinitionsAndLabelCounts) {
  Registry registry;
  Counter& c = registry.AddCounter("ok_total", "OK.", {"a", "b"});
  ExpectError([&] { c.Increment({"x"}); }, kInvalid, {"ok_total", "takes 2", "(a, b)", "got 1"});
  ExpectError([&] { registry.AddCounter("ok_total", "again", {}); }, kInvalid,
              {"registered twice"});
  ExpectError([&] { registry.AddCounter("bad-name", "", {}); }, kInvalid, {"'bad-name'"});
  ExpectError([&] { registry.AddCounter("x_total", "", {"__reserved"}); }, kInvalid,
              {"'__reserved'"});
  ExpectError([&] { registry.AddCounter("y_total", "", {"a", "a"}); }, kInvalid, {"twice"});
  ExpectError([&] { registry.AddHistogram("h1", "", {"le"}, {1}); }, kInvalid, {"'le'"});
  ExpectError([&] { registry.AddHistogram("h2", "", {}, {}); }, kInvalid, {"at least one"});
  ExpectError(
      [&] {
        registry.AddHistogram("h3", "", {}, {1, 1});
      },
      kInvalid, {"strictly increasing"});
  ExpectError([&] { registry.AddInfo("i", "", {"version"}, {}); }, kInvalid, {"1 labels"});
}

TEST(Registry, AFailingCollectorDropsOnlyItsOwnSamples) {
  Registry registry;
  registry.AddGauge("broken", "B.", {}, []() -> std::vector<GaugeSample> {
    throw Error(ErrorCode::kInternal, "state dir unreadable");
  });
  registry.AddGauge("wrong_arity", "W.", {"a"}, [] { return std::vector<GaugeSample>{{{}, 1}}; });
  registry.AddInfo("fine", "F.", {}, {});
  EXPECT_EQ(registry.Render(),
            "# HELP broken B.\n# TYPE broken gauge\n"
            "# HELP wrong_arity W.\n# TYPE wrong_arity gauge\n"
            "# HELP fine F.\n# TYPE fine gauge\nfine 1\n");
}

TEST(Registry, CountsExactlyUnderConcurrentUpdatesAndScrapes) {
  Registry registry;
  Counter& c = registry.AddCounter("c_total", "C.", {"thread"});
  Counter& shared = registry.AddCounter("shared_total", "S.", {});
  Histogram& h = registry.AddHistogram("h_seconds", "H.", {}, {0.5});
  constexpr int kThreads = 8;
  constexpr int kEach = 20000;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    do {
      // Every scrape is well formed while the numbers move.
      for (const auto& line : Split(registry.Render(), '\n')) {
        ASSERT_TRUE(line.empty() || line.starts_with("# ") || line.find(' ') != std::string::npos)
            << line;
      }
    } while (!done);
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        c.Increment({std::to_string(t % 2)});
        shared.Increment({});
        h.Observe({}, i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& w : writers) {
    w.join();
  }
  done = true;
  scraper.join();
  EXPECT_EQ(shared.Value({}), uint64_t{kThreads} * kEach);
  EXPECT_EQ(c.Value({"0"}) + c.Value({"1"}), uint64_t{kThreads} * kEach);
  Histogram::Totals totals = h.Get({});
  EXPECT_EQ(totals.count, uint64_t{kThreads} * kEach);
  EXPECT_EQ(totals.cumulative[0], uint64_t{kThreads} * kEach / 2);
  EXPECT_DOUBLE_EQ(totals.sum, kThreads * (kEach / 2) * (0.25 + 1.0));
}

}  // namespace
}  // namespace berth::metrics
