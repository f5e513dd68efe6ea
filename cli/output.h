// berthctl's output: a human table by default, one JSON document with --json; progress on
// stderr as a bar on a terminal and as plain lines otherwise.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace berth::cli {

// Prints `rows` under `header`, columns padded to their widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

void PrintJson(const nlohmann::json& doc);

// Reports (done, total) for `what` on stderr: "\r[#####     ]  50% rollback" on a terminal,
// else a line at each 10% step.
class ProgressReporter {
 public:
  explicit ProgressReporter(std::string what);
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;
  void operator()(uint64_t done, uint64_t total);
  // Reports 100% (librbd's last callback may stop short of it).
  void Done();

 private:
  std::string what_;
  bool tty_;
  int last_percent_ = -1;
};

// Asks "<question> [y/N]" on a terminal. Without one, refuses (kInvalidArgument) and says to
// pass --yes, so a script never hangs or proceeds by accident.
void Confirm(const std::string& question, bool assume_yes);

// "2026-11-26T19:36:53Z" from seconds since the epoch.
std::string FormatTime(int64_t seconds);

}  // namespace berth::cli
