// berthd's side of POST /Berth.Flex (berthd_request.h): a node's FlexVolume call run on
// berthd's engine.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "engine/config.h"
#include "engine/engine.h"

namespace berth::flex {

struct BerthdFlexReply {
  unsigned status = 200;
  nlohmann::json body;  // the FlexVolume reply, or {"Err": ...} for a status other than 200
};

// Serves one request body for the berthd running `engine` with `config`, read from
// `config_path`. 409 when the call is for another config file, or is one berth-flex keeps in its
// own process (GoesToBerthd): berth-flex then runs it itself. 400 for a malformed request. Else
// 200 with the FlexVolume reply (Success, Failure or Not supported). Never throws.
BerthdFlexReply ServeBerthdFlexRequest(const std::string& body, const std::string& config_path,
                                       const engine::Config& config, engine::Engine& engine);

}  // namespace berth::flex
