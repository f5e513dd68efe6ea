#include "common/fault.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>

namespace berth {

void FaultPoint([[maybe_unused]] std::string_view step) {
#ifdef BERTH_FAULT_INJECTION
  const char* wanted = std::getenv("BERTH_FAULT");
  if (wanted == nullptr || step != wanted) {
    return;
  }
  // Say where, unbuffered (the logger may hold lines back), then die as `kill -9` would.
  const std::string line = "fault injection: killed at " + std::string(step) + "\n";
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
  std::raise(SIGKILL);
#endif
}

}  // namespace berth
