// berth's FlexVolume driver: runs one kubelet call against the engine and builds the reply.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "engine/config.h"
#include "plugin/flex/call.h"
#include "plugin/flex/replies.h"
#include "plugin/flex/volume_request.h"

namespace berth::engine {
class Engine;
}  // namespace berth::engine

namespace berth::flex {

class FlexDriver {
 public:
  // In a process of its own (berth-flex-driver): `config_path` is read only by the verbs that
  // need it (init never does), and each call makes its own engine.
  FlexDriver(DriverKind driver, std::string config_path);
  // Inside berthd (POST /Berth.Flex, berthd_endpoint.h): berthd's config and engine, so the
  // pods of a node share one Ceph session. A call whose options carry a pod secret's cephx
  // identity still gets an engine of its own.
  FlexDriver(DriverKind driver, const engine::Config& config, engine::Engine& engine);

  // Runs a parsed call. Failures are thrown as berth::Error; verbs this driver does not
  // implement return a "Not supported" reply.
  nlohmann::json Run(const FlexCall& call);

 private:
  DriverKind driver_;
  std::string config_path_;
  const engine::Config* shared_config_ = nullptr;
  engine::Engine* shared_engine_ = nullptr;
};

}  // namespace berth::flex
