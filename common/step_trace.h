// Where a long operation's time goes: a StepTrace, alive on a thread for the operation, collects
// the time of each step marked on that thread with TraceStep, and logs them in one debug line
// when it ends: "mount db: lock 38 ms, map 152 ms, ..., total 290 ms". TraceStep with no trace
// on the thread does nothing, so code marks its steps whichever caller it has.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth {

class StepTrace {
 public:
  using Clock = std::chrono::steady_clock;

  explicit StepTrace(std::string what);
  ~StepTrace();
  StepTrace(const StepTrace&) = delete;
  StepTrace& operator=(const StepTrace&) = delete;

  // The time since the previous mark (or the start), under `step`. Repeated names add up.
  void Mark(std::string_view step);
  // "lock 38 ms, map 152 ms, total 190 ms"; the time since the last mark is "other".
  [[nodiscard]] std::string Summary() const;

 private:
  std::string what_;
  Clock::time_point start_;
  Clock::time_point last_;
  std::vector<std::pair<std::string, Clock::duration>> steps_;
  StepTrace* outer_;
};

// Marks `step` on this thread's innermost StepTrace, if there is one.
void TraceStep(std::string_view step);

}  // namespace berth
