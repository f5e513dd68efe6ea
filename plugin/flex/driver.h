// berth's FlexVolume driver: runs one kubelet call against the engine and builds the reply.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "engine/config.h"
#include "plugin/flex/call.h"
#include "plugin/flex/replies.h"
#include "plugin/flex/volume_request.h"

namespace berth::flex {

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
