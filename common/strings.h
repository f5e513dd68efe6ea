// String helpers used across layers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth {

// Without leading and trailing whitespace.
std::string Trim(std::string_view s);

// Splits on `sep`, keeping empty items (callers validate them).
std::vector<std::string> Split(std::string_view s, char sep);

// Splits on runs of whitespace, dropping empty items ("-O  mmp" -> {"-O", "mmp"}).
std::vector<std::string> SplitWords(std::string_view s);

// The items with `sep` between them.
std::string Join(const std::vector<std::string>& items, std::string_view sep);

}  // namespace berth
