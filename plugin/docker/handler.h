// Maps Docker plugin requests to engine calls and engine errors to {"Err": ...} replies.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>

#include "common/error.h"
#include "engine/engine.h"
#include "plugin/docker/plugin_metrics.h"
#include "plugin/docker/protocol.h"

namespace berth::docker {

struct Reply {
  unsigned status = 200;
  nlohmann::json body;
};

class Handler {
 public:
  // With `metrics`, every request is counted and timed there.
  explicit Handler(engine::Engine& engine, PluginMetrics* metrics = nullptr)
      : engine_(engine), metrics_(metrics) {}

  // One request in, one reply out; never throws. Engine errors are HTTP 200 with "Err" (what
  // dockerd shows the user); protocol errors (bad JSON, unknown endpoint) are 4xx with "Err".
  Reply Handle(const std::string& method, const std::string& target, const std::string& body);
  // The reply to a request (`operation`, e.g. "Mount") that waited its bound behind another
  // request for the same volume, which is `in_flight` ("Mount since ..."): busy, say retry.
  Reply Busy(const std::string& volume, const std::string& operation, const std::string& in_flight);

  // Serves POST /Berth.Flex (plugin/flex/berthd_endpoint.h) from a request body; without it,
  // berthd answers 404 and berth-flex runs its calls itself. Set before serving.
  using FlexService = std::function<Reply(const std::string& body)>;
  void set_flex_service(FlexService service) { flex_ = std::move(service); }

 private:
  // What a request was, for its metrics.
  struct Outcome {
    std::string operation = "unknown";
    std::string backend;
    std::optional<ErrorCode> error;
  };
  Reply Serve(const std::string& method, const std::string& target, const std::string& body,
              Outcome& outcome);
  nlohmann::json Dispatch(Endpoint endpoint, const VolumeRequest& request, Outcome& outcome);
  static nlohmann::json VolumeJson(const engine::VolumeRecord& record,
                                   const std::optional<engine::HostVolumeState>& local);
  // Tells the metrics which backend serves the volume (a no-op without metrics).
  void Learn(const engine::VolumeRecord& record, Outcome* outcome = nullptr);

  engine::Engine& engine_;
  PluginMetrics* metrics_;
  FlexService flex_;
};

}  // namespace berth::docker
