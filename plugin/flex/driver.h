// berth's FlexVolume driver: runs one kubelet call against the engine and builds the reply.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "engine/config.h"
#include "plugin/flex/call.h"
#include "plugin/flex/volume_request.h"

namespace berth::flex {

// The reply kubelet parses (its DriverStatus): {"status": "Success", ...}.
nlohmann::json SuccessReply();
nlohmann::json FailureReply(const std::string& message);
nlohmann::json NotSupportedReply(const std::string& message);

// The capabilities `init` reports: attach for RBD only; fsGroup false, because berth sets
// the group on a fresh filesystem's root itself instead of kubelet's recursive chown;
// supportsMetrics true, so kubelet reports volume usage.
nlohmann::json InitReply(DriverKind driver);

class FlexDriver {
 public:
  // `config_path` is read only by the verbs that need it (init never does).
  FlexDriver(DriverKind driver, std::string config_path);

  // Runs a parsed call. Failures are thrown as berth::Error; verbs this driver does not
  // implement return a "Not supported" reply.
  nlohmann::json Run(const FlexCall& call);

 private:
  DriverKind driver_;
  std::string config_path_;
};

}  // namespace berth::flex
