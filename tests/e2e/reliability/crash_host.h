// One berth host for crash tests: its own berthd (config, socket, state dir) that the test kills
// and restarts, driven with raw plugin requests as dockerd sends them.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "tests/support/berthd_process.h"

namespace berth::e2e {

// A Mount or Unmount body: the volume and Docker's mount ID.
inline nlohmann::json Ref(const std::string& name, const std::string& id) {
  return {{"Name", name}, {"ID", id}};
}

class CrashHost {
 public:
  explicit CrashHost(std::string host_id);
  CrashHost(const CrashHost&) = delete;
  CrashHost& operator=(const CrashHost&) = delete;

  // Starts berthd (its start-up reconcile runs before it answers); with `fault`, it kills
  // itself at that step (common/fault.h).
  void Start(const std::string& fault = "");
  void Kill();  // kill -9
  void Stop();  // SIGTERM, as systemd does
  // Waits for berthd to die at its fault point; false if it still runs or died elsewhere.
  bool DiedAtFault();

  // POST /VolumeDriver.<endpoint>: the reply's JSON, or {"transport": false} when berthd died
  // before answering.
  nlohmann::json Call(const std::string& endpoint, const nlohmann::json& body);
  // Like Call, but the reply must carry no "Err".
  nlohmann::json CallOk(const std::string& endpoint, const nlohmann::json& body);

  const std::string& host_id() const { return host_id_; }
  const std::string& state_dir() const { return state_dir_; }
  // How many times this host's berthd said it was formatting `volume`.
  int FormatCount(const std::string& volume) const;
  bool HasState(const std::string& volume) const;

 private:
  std::string host_id_;
  std::string base_;
  std::string config_;
  std::string state_dir_;
  std::string fault_;
  std::unique_ptr<testing::BerthdProcess> berthd_;
};

}  // namespace berth::e2e
