#include "tests/support/watchdog/blocked_processes.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace berth::testing {

namespace {

std::optional<std::string> ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return std::nullopt;
  }
  return line;
}

uint64_t ContextSwitches(const std::string& status_path) {
  std::ifstream in(status_path);
  uint64_t total = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("voluntary_ctxt_switches:") ||
        line.starts_with("nonvoluntary_ctxt_switches:")) {
      total += std::stoull(line.substr(line.find(':') + 1));
    }
  }
  return total;
}

}  // namespace

std::optional<ProcStat> ParseProcStat(const std::string& line) {
  const auto open = line.find(" (");
  const auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return std::nullopt;
  }
  ProcStat stat;
  try {
    stat.pid = static_cast<pid_t>(std::stol(line.substr(0, open)));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  stat.comm = line.substr(open + 2, close - open - 2);
  // Fields 3 onwards: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  // utime stime cutime cstime priority nice threads itrealvalue starttime ...
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) {
    fields.push_back(field);
  }
  if (fields.size() < 20 || fields[0].size() != 1) {
    return std::nullopt;
  }
  try {
    stat.state = fields[0][0];
    stat.ppid = static_cast<pid_t>(std::stol(fields[1]));
    stat.cpu_ticks = std::stoull(fields[11]) + std::stoull(fields[12]);
    stat.start_time = std::stoull(fields[19]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return stat;
}

std::vector<ProcessSample> SampleProcesses() {
  std::vector<ProcessSample> samples;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return samples;
  }
  while (const dirent* entry = ::readdir(proc)) {
    const std::string name = entry->d_name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) {
      continue;
    }
    const std::string base = "/proc/" + name;
    auto line = ReadLine(base + "/stat");
    auto stat = line ? ParseProcStat(*line) : std::nullopt;
    if (!stat) {
      continue;  // gone meanwhile
    }
    ProcessSample sample;
    sample.stat = *stat;
    sample.kernel_thread = stat->pid == 2 || stat->ppid == 2;
    if (stat->state == 'D') {
      sample.switches = ContextSwitches(base + "/status");
    }
    samples.push_back(std::move(sample));
  }
  ::closedir(proc);
  return samples;
}

void BlockedTracker::Update(const std::vector<ProcessSample>& samples, Clock::time_point now) {
  std::map<std::pair<pid_t, uint64_t>, Entry> next;
  for (const auto& sample : samples) {
    if (sample.stat.state != 'D' || sample.kernel_thread) {
      continue;
    }
    const auto key = std::make_pair(sample.stat.pid, sample.stat.start_time);
    const uint64_t progress = sample.stat.cpu_ticks + sample.switches;
    auto it = blocked_.find(key);
    Entry entry{sample.stat, progress, now};
    if (it != blocked_.end() && it->second.progress == progress) {
      entry.since = it->second.since;  // still blocked, and it has not moved
    }
    next.emplace(key, std::move(entry));
  }
  blocked_ = std::move(next);
}

std::vector<std::pair<ProcStat, BlockedTracker::Clock::duration>> BlockedTracker::StuckFor(
    Clock::duration bound, Clock::time_point now) const {
  std::vector<std::pair<ProcStat, Clock::duration>> stuck;
  for (const auto& [key, entry] : blocked_) {
    if (now - entry.since >= bound) {
      stuck.emplace_back(entry.stat, now - entry.since);
    }
  }
  return stuck;
}

std::vector<pid_t> Descendants(const std::vector<ProcessSample>& samples, pid_t root) {
  std::vector<pid_t> found = {root};
  for (size_t i = 0; i < found.size(); ++i) {
    for (const auto& sample : samples) {
      if (sample.stat.ppid == found[i] && sample.stat.pid != root) {
        found.push_back(sample.stat.pid);
      }
    }
  }
  return found;
}

}  // namespace berth::testing
