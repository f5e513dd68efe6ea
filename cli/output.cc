#include "cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <iostream>

#include "common/error.h"

namespace berth::cli {

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header);
  std::for_each(rows.begin(), rows.end(), measure);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(widths[i] - row[i].size() + 2, ' ');
      }
    }
    std::cout << line << "\n";
  };
  print(header);
  std::for_each(rows.begin(), rows.end(), print);
}

void PrintJson(const nlohmann::json& doc) {
  std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

ProgressReporter::ProgressReporter(std::string what)
    : what_(std::move(what)), tty_(::isatty(STDERR_FILENO) == 1) {}

ProgressReporter::~ProgressReporter() {
  if (tty_ && last_percent_ >= 0) {
    std::cerr << "\n";
  }
}

void ProgressReporter::operator()(uint64_t done, uint64_t total) {
  const int percent = total == 0 ? 100 : static_cast<int>(done * 100 / total);
  if (percent == last_percent_ || (!tty_ && percent / 10 == last_percent_ / 10 && percent != 100)) {
    return;
  }
  last_percent_ = percent;
  if (tty_) {
    const int filled = percent / 5;
    std::cerr << "\r[" << std::string(static_cast<size_t>(filled), '#')
              << std::string(static_cast<size_t>(20 - filled), ' ') << "] " << percent << "% "
              << what_ << std::flush;
  } else {
    std::cerr << what_ << ": " << percent << "%\n";
  }
}

void ProgressReporter::Done() { (*this)(1, 1); }

void Confirm(const std::string& question, bool assume_yes) {
  if (assume_yes) {
    return;
  }
  if (::isatty(STDIN_FILENO) != 1) {
    throw Error(ErrorCode::kInvalidArgument,
                question + ": not confirmed; pass --yes to confirm without a terminal");
  }
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  if (answer != "y" && answer != "Y" && answer != "yes") {
    throw Error(ErrorCode::kInvalidArgument, "not confirmed; nothing changed");
  }
}

std::string FormatTime(int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace berth::cli
