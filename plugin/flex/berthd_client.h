// berth-flex's side of POST /Berth.Flex (berthd_request.h): finding the node's berthd and
// handing it a call.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "plugin/flex/berthd_request.h"

namespace berth::flex {

// berthd's default socket, used when the config names none (engine::Config's default; a unit
// test keeps the two equal).
inline constexpr const char* kDefaultBerthdSocket = "/run/docker/plugins/berth.sock";

// The socket of the berthd that serves `config_path`: the config's "socket", else the default.
// nullopt when the config cannot be read or parsed (the call then fails in berth-flex-driver,
// which says why).
std::optional<std::string> BerthdSocketOf(const std::string& config_path);

// Hands `request` to the berthd listening on `socket` and returns its FlexVolume reply. nullopt
// when that berthd did not take the call, so it ran nowhere and the caller runs it itself: no
// socket file, nobody listening, the request not fully sent, a berthd without the endpoint
// (404), or one serving another config (409). Once the request is sent, any failure is a
// Failure reply: the call may have run, and kubelet retries (every verb is idempotent).
std::optional<nlohmann::json> CallBerthd(const std::string& socket,
                                         const BerthdFlexRequest& request);

}  // namespace berth::flex
