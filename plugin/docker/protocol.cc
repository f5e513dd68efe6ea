#include "plugin/docker/protocol.h"

#include <map>

#include "common/error.h"

namespace berth::docker {

namespace {

Error Invalid(const std::string& message) { return Error(ErrorCode::kInvalidArgument, message); }

}  // namespace

std::optional<Endpoint> ParseEndpoint(const std::string& target) {
  static const std::map<std::string, Endpoint> endpoints = {
      {"/Plugin.Activate", Endpoint::kActivate},
      {"/VolumeDriver.Create", Endpoint::kCreate},
      {"/VolumeDriver.Remove", Endpoint::kRemove},
      {"/VolumeDriver.Mount", Endpoint::kMount},
      {"/VolumeDriver.Unmount", Endpoint::kUnmount},
      {"/VolumeDriver.Path", Endpoint::kPath},
      {"/VolumeDriver.Get", Endpoint::kGet},
      {"/VolumeDriver.List", Endpoint::kList},
      {"/VolumeDriver.Capabilities", Endpoint::kCapabilities},
      {"/Berth.Flex", Endpoint::kFlex},
  };
  auto it = endpoints.find(target);
  if (it == endpoints.end()) {
    return std::nullopt;
  }
  return it->second;
}

bool IsSlow(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kCreate:
    case Endpoint::kRemove:
    case Endpoint::kMount:
    case Endpoint::kUnmount:
    case Endpoint::kFlex:
      return true;
    default:
      return false;
  }
}

bool TakesVolume(Endpoint endpoint) {
  return endpoint != Endpoint::kActivate && endpoint != Endpoint::kCapabilities &&
         endpoint != Endpoint::kList && endpoint != Endpoint::kFlex;
}

VolumeRequest ParseVolumeRequest(Endpoint endpoint, const std::string& body) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    // A parse_error, or out_of_range for a number no double holds (1e999): on a worker thread,
    // anything but berth::Error would escape the handler.
    throw Invalid(std::string("request body is not valid JSON: ") + e.what());
  }
  if (!json.is_object()) {
    throw Invalid("request body must be a JSON object");
  }
  VolumeRequest request;
  if (!json.contains("Name") || !json["Name"].is_string()) {
    throw Invalid("request needs \"Name\", the volume name, as a string");
  }
  request.name = json["Name"].get<std::string>();
  if (endpoint == Endpoint::kMount || endpoint == Endpoint::kUnmount) {
    if (!json.contains("ID") || !json["ID"].is_string() || json["ID"].get<std::string>().empty()) {
      throw Invalid("request needs \"ID\", the mount ID, as a non-empty string");
    }
    request.id = json["ID"].get<std::string>();
  }
  if (endpoint == Endpoint::kCreate && json.contains("Opts") && !json["Opts"].is_null()) {
    if (!json["Opts"].is_object()) {
      throw Invalid("\"Opts\" must be an object of strings");
    }
    for (const auto& [key, value] : json["Opts"].items()) {
      if (!value.is_string()) {
        throw Invalid("option '" + key + "' must be a string");
      }
      request.options[key] = value.get<std::string>();
    }
  }
  return request;
}

nlohmann::json ErrorBody(const std::string& message) { return {{"Err", message}}; }

}  // namespace berth::docker
