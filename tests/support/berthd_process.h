// A berthd of this build that a test starts for itself: its own config (derived from the lab's
// berth.json), socket, state dir, mount root and log, stopped by its pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace berth::testing {

// Writes `base`/berth.json: the lab's config with `host_id`, state dir `base`/state, mount root
// `base`/mnt and socket `base`/berthd.sock. Returns its path.
std::string WriteBerthdConfig(const std::string& base, const std::string& host_id);

class BerthdProcess {
 public:
  // Starts `berthd` --config `config` --socket `socket`, stdout and stderr appended to `log`,
  // its pid recorded in $BERTH_LAB_DIR/run/ (so `scripts/lab down` stops it if the test dies).
  // Waits until the socket answers Capabilities; throws (after stopping it) if it never does.
  BerthdProcess(const std::string& berthd, const std::string& config, std::string socket,
                std::string log, const std::string& log_level = "info");
  ~BerthdProcess();  // Stop()
  BerthdProcess(const BerthdProcess&) = delete;
  BerthdProcess& operator=(const BerthdProcess&) = delete;

  // SIGTERM, then SIGKILL after 20 s. True when it exited on SIGTERM (or was stopped already).
  bool Stop();
  // Waits up to `timeout` for it to exit by itself (a crash test's fault point); true if it did.
  bool WaitForExit(std::chrono::seconds timeout) const;

  pid_t pid() const { return pid_; }
  const std::string& socket() const { return socket_; }
  const std::string& log() const { return log_; }
  // The log written since this berthd started.
  std::string LogText() const;

 private:
  std::string socket_;
  std::string log_;
  std::string pid_file_;
  size_t log_start_ = 0;
  pid_t pid_ = -1;
};

}  // namespace berth::testing
