// A stand-in for a helper process (rbd-fuse, berth-nfs-fuse): a copy of sh under the helper's
// name, whose argv carries the arguments that identify the real one. For tests of the rules
// that decide whether a recorded pid is still a volume's own helper.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/subprocess.h"

namespace berth::testing {

// Starts `dir`/`program` (a copy of /bin/sh) with `arguments` after its script, detached, and
// returns its pid once it runs under that name. The script's trailing `; :` keeps sh from
// exec'ing sleep, so the argv stays. The caller kills it.
inline pid_t StartStandIn(const std::string& dir, const std::string& program,
                          const std::vector<std::string>& arguments) {
  std::filesystem::copy_file("/bin/sh", dir + "/" + program,
                             std::filesystem::copy_options::overwrite_existing);
  std::vector<std::string> argv = {dir + "/" + program, "-c", "sleep 30; :"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  const pid_t pid = SpawnDetached(argv, "/dev/null");
  for (int i = 0; i < 500 && !ProcessRuns(pid, program); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pid;
}

}  // namespace berth::testing
