// berth-csi of this build, run as a CO runs it: on a socket of the test's own, with its stderr in
// a log file. Stopped with SIGTERM when it goes, or killed with SIGKILL by a crash test.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "csi.grpc.pb.h"

namespace berth::testing {

class CsiProcess {
 public:
  // `extra` is appended to --endpoint and --config (--mode, --path-root); `environment` is
  // added to this process's (BERTH_FAULT=step). A `launcher` runs berth-csi's command line
  // (`launcher... berth-csi args...`) and must exec it in place, so the pid stays berth-csi's.
  CsiProcess(const std::string& config, const std::string& socket, const std::string& log,
             const std::vector<std::string>& extra = {},
             const std::vector<std::string>& environment = {},
             const std::vector<std::string>& launcher = {});
  ~CsiProcess() { Stop(); }
  CsiProcess(const CsiProcess&) = delete;
  CsiProcess& operator=(const CsiProcess&) = delete;

  // SIGTERM; the exit status, which is 0 for a clean stop.
  int Stop();
  // SIGKILL, as an OOM kill or a crashed upgrade does.
  void Kill();
  // Whether it still runs (a fault point may have killed it).
  bool Running();
  // Waits up to `timeout` for it to end by itself; whether it did. A client can see the socket
  // close before the dying process can be reaped.
  bool Exits(std::chrono::milliseconds timeout);

  std::unique_ptr<csi::v1::Identity::Stub> Identity() const;
  std::unique_ptr<csi::v1::Controller::Stub> Controller() const;
  std::unique_ptr<csi::v1::Node::Stub> Node() const;
  const std::string& socket() const { return socket_; }

 private:
  std::string socket_;
  std::string pid_file_;
  pid_t pid_ = -1;
  int status_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace berth::testing
