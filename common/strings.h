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

// With A-Z as a-z (no locale).
std::string AsciiLower(std::string_view s);

// 1 to `max_length` characters from A-Z a-z 0-9 _ . -, starting with a letter or digit: a name
// that is safe as a file name, an RBD snapshot name and in a URL.
bool IsPortableName(std::string_view s, size_t max_length);

// `s` with every character that is not printable ASCII shown as '?', for messages and logs.
std::string Printable(std::string_view s);

}  // namespace berth
