// Finds processes stuck in uninterruptible sleep (state D) without progress: the signature of
// a test wedged on I/O that will never finish (a FUSE daemon whose cluster is gone, a loop
// device over it, every later sync()). Used by the test watchdog (watchdog_main.cc).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace berth::testing {

// The fields of /proc/PID/stat the watchdog needs.
struct ProcStat {
  pid_t pid = 0;
  std::string comm;
  char state = '?';
  pid_t ppid = 0;
  uint64_t cpu_ticks = 0;   // utime + stime
  uint64_t start_time = 0;  // in clock ticks since boot: tells a reused pid apart
};

// Parses one /proc/PID/stat line. The comm may hold blanks and parentheses, so the fields are
// counted from the last ')'. Nothing when the line is not of that form.
std::optional<ProcStat> ParseProcStat(const std::string& line);

// One process as sampled: its stat, and a count that grows whenever it runs or wakes
// (context switches), so a process that keeps waking is making progress even in state D.
struct ProcessSample {
  ProcStat stat;
  uint64_t switches = 0;
  bool kernel_thread = false;
};

// Every process now, read from /proc (processes that exit meanwhile are left out).
std::vector<ProcessSample> SampleProcesses();

// Remembers since when each process has been in state D with no progress at all.
class BlockedTracker {
 public:
  using Clock = std::chrono::steady_clock;

  // Feeds one sample of all processes taken at `now`.
  void Update(const std::vector<ProcessSample>& samples, Clock::time_point now);
  // The user-space processes (kernel threads are left out: they follow the processes they
  // serve) in D without progress for at least `bound` at `now`, with how long.
  std::vector<std::pair<ProcStat, Clock::duration>> StuckFor(Clock::duration bound,
                                                             Clock::time_point now) const;

 private:
  struct Entry {
    ProcStat stat;
    uint64_t progress = 0;
    Clock::time_point since;
  };
  std::map<std::pair<pid_t, uint64_t>, Entry> blocked_;
};

// The pids of `root` and all its descendants in `samples`.
std::vector<pid_t> Descendants(const std::vector<ProcessSample>& samples, pid_t root);

}  // namespace berth::testing
