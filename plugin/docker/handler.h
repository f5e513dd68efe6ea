// Maps Docker plugin requests to engine calls and engine errors to {"Err": ...} replies.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "engine/engine.h"
#include "plugin/docker/protocol.h"

namespace berth::docker {

struct Reply {
  unsigned status = 200;
  nlohmann::json body;
};

class Handler {
 public:
  explicit Handler(engine::Engine& engine) : engine_(engine) {}

  // One request in, one reply out; never throws. Engine errors are HTTP 200 with "Err" (what
  // dockerd shows the user); protocol errors (bad JSON, unknown endpoint) are 4xx with "Err".
  Reply Handle(const std::string& method, const std::string& target, const std::string& body);

 private:
  nlohmann::json Dispatch(Endpoint endpoint, const VolumeRequest& request);
  nlohmann::json VolumeJson(const engine::VolumeInfo& info) const;

  engine::Engine& engine_;
};

}  // namespace berth::docker
