#include "common/metrics/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace berth::metrics {
namespace {

TEST(Exposition, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue("plain value"), "plain value");
  EXPECT_EQ(EscapeLabelValue(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(EscapeLabelValue(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(EscapeLabelValue("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(EscapeLabelValue("tab\tand ünïcode"), "tab\tand ünïcode");
  EXPECT_EQ(EscapeLabelValue(""), "");
}

TEST(Exposition, EscapesHelpButNotQuotes) {
  EXPECT_EQ(EscapeHelp("Time to \"answer\"\nin s\\"), R"(Time to "answer"\nin s\\)");
}

TEST(Exposition, FormatsValuesShortestAndExact) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1), "1");
  EXPECT_EQ(FormatValue(120), "120");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(-3.25), "-3.25");
  EXPECT_EQ(FormatValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatValue(9007199254740993.0), "9007199254740992");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(Exposition, ChecksNames) {
  EXPECT_TRUE(IsValidMetricName("berth_operations_total"));
  EXPECT_TRUE(IsValidMetricName("job:rate5m"));
  EXPECT_TRUE(IsValidMetricName("_x"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("5xx"));
  EXPECT_FALSE(IsValidMetricName("berth-ops"));
  EXPECT_FALSE(IsValidMetricName("berth ops"));

  EXPECT_TRUE(IsValidLabelName("backend"));
  EXPECT_TRUE(IsValidLabelName("_b2"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("job:x"));
  EXPECT_FALSE(IsValidLabelName("2b"));
  EXPECT_FALSE(IsValidLabelName(""));
}

TEST(Exposition, WritesHeadersAndSamples) {
  std::string out;
  AppendHeader(out, "berth_errors_total", "Failed requests.\nBy category.", "counter");
  AppendSample(out, "berth_errors_total", {{"category", "busy"}}, 3);
  AppendSample(out, "berth_errors_total", {{"a", "x\"y"}, {"b", "\\"}}, 0.5);
  AppendSample(out, "berth_up", {}, 1);
  EXPECT_EQ(out,
            "# HELP berth_errors_total Failed requests.\\nBy category.\n"
            "# TYPE berth_errors_total counter\n"
            "berth_errors_total{category=\"busy\"} 3\n"
            "berth_errors_total{a=\"x\\\"y\",b=\"\\\\\"} 0.5\n"
            "berth_up 1\n");
}

}  // namespace
}  // namespace berth::metrics
