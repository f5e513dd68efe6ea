// Prometheus' text exposition format, version 0.0.4: the escaping and number formatting rules,
// and one sample line. No registry here, just the encoding.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::metrics {

inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Label names and values of one series, in the family's label order.
using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// A label value between double quotes: backslash, double quote and line feed escaped.
std::string EscapeLabelValue(std::string_view value);
// A HELP text: backslash and line feed escaped (quotes stay as they are).
std::string EscapeHelp(std::string_view help);
// The shortest text that reads back as the same double ("0.005", "120", "1e+21"), and "NaN",
// "+Inf", "-Inf".
std::string FormatValue(double value);

// Metric names are [a-zA-Z_:][a-zA-Z0-9_:]*; label names are [a-zA-Z_][a-zA-Z0-9_]* and do not
// start with "__" (reserved for Prometheus itself).
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

// "# HELP name help\n# TYPE name type\n".
void AppendHeader(std::string& out, std::string_view name, std::string_view help,
                  std::string_view type);
// "name{a=\"x\",b=\"y\"} value\n" ("name value\n" without labels).
void AppendSample(std::string& out, std::string_view name, const LabelPairs& labels, double value);

}  // namespace berth::metrics
