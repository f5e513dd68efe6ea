// Docker's volume plugin protocol v1: request parsing and response bodies. No engine calls here.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "engine/volume_spec.h"

namespace berth::docker {

inline constexpr size_t kMaxBodyBytes = 1 << 20;  // 1 MiB; dockerd's bodies are tiny
inline constexpr const char* kContentType = "application/vnd.docker.plugins.v1.1+json";

enum class Endpoint {
  kActivate,
  kCreate,
  kRemove,
  kMount,
  kUnmount,
  kPath,
  kGet,
  kList,
  kCapabilities,
  kFlex,  // berth's own: berth-flex hands berthd a node's FlexVolume call (plugin/flex)
};

// "/VolumeDriver.Mount" -> kMount; nullopt for anything else.
std::optional<Endpoint> ParseEndpoint(const std::string& target);

// Create, Remove, Mount, Unmount and Flex may take seconds (attach, mkfs); the rest answer from
// the registry and host state and must never queue behind them.
bool IsSlow(Endpoint endpoint);

// Whether the endpoint's body names a volume (all but Activate, Capabilities, List and Flex).
bool TakesVolume(Endpoint endpoint);

struct VolumeRequest {
  std::string name;
  std::string id;           // Mount and Unmount only
  engine::Options options;  // Create only
};

// Parses and validates a body for `endpoint`: JSON object, a string "Name", a string "ID" for
// Mount/Unmount, "Opts" null or an object of strings for Create. Throws kInvalidArgument with
// a message naming what was wrong.
VolumeRequest ParseVolumeRequest(Endpoint endpoint, const std::string& body);

nlohmann::json ErrorBody(const std::string& message);

}  // namespace berth::docker
