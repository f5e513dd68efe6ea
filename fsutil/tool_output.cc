#include "fsutil/tool_output.h"

#include <string_view>

namespace berth::fsutil {

namespace {

constexpr size_t kMaxChars = 1500;

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) {
    return {};
  }
  const auto end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

}  // namespace

std::string SummarizeToolOutput(const std::string& out, const std::string& err) {
  std::string joined(Trim(out));
  const std::string_view trimmed_err = Trim(err);
  if (!trimmed_err.empty()) {
    if (!joined.empty()) {
      joined += "; ";
    }
    joined += trimmed_err;
  }
  if (joined.empty()) {
    return "(no output)";
  }
  if (joined.size() > kMaxChars) {
    joined = "..." + joined.substr(joined.size() - kMaxChars);
  }
  return joined;
}

}  // namespace berth::fsutil
