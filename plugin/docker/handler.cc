#include "plugin/docker/handler.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "engine/volume_status.h"

namespace berth::docker {

nlohmann::json Handler::VolumeJson(const engine::VolumeInfo& info) const {
  nlohmann::json volume = {{"Name", info.record.spec.name}, {"CreatedAt", info.record.created_at}};
  if (info.local && !info.local->mount_path.empty()) {
    volume["Mountpoint"] = info.local->mount_path;
  }
  return volume;
}

nlohmann::json Handler::Dispatch(Endpoint endpoint, const VolumeRequest& request) {
  switch (endpoint) {
    case Endpoint::kActivate:
      return {{"Implements", {"VolumeDriver"}}};
    case Endpoint::kCapabilities:
      return {{"Capabilities", {{"Scope", "global"}}}};
    case Endpoint::kList: {
      nlohmann::json volumes = nlohmann::json::array();
      for (const auto& info : engine_.List()) {
        volumes.push_back(VolumeJson(info));
      }
      return {{"Volumes", volumes}, {"Err", ""}};
    }
    default:
      break;
  }
  switch (endpoint) {
    case Endpoint::kCreate:
      engine_.Create(request.name, request.options);
      return {{"Err", ""}};
    case Endpoint::kRemove:
      engine_.Remove(request.name);
      return {{"Err", ""}};
    case Endpoint::kMount:
      return {{"Mountpoint", engine_.Mount(request.name, request.id).mount_path}, {"Err", ""}};
    case Endpoint::kUnmount:
      engine_.Unmount(request.name, request.id);
      return {{"Err", ""}};
    case Endpoint::kPath: {
      auto info = engine_.Get(request.name);
      nlohmann::json reply = {{"Err", ""}};
      if (info.local && !info.local->mount_path.empty()) {
        reply["Mountpoint"] = info.local->mount_path;
      }
      return reply;
    }
    case Endpoint::kGet: {
      try {
        auto info = engine_.Get(request.name);
        auto volume = VolumeJson(info);
        volume["Status"] = engine::VolumeStatus(info, engine_.config().host_id);
        return {{"Volume", volume}, {"Err", ""}};
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kNotFound) {
          throw;
        }
        // No Volume and no Err is how dockerd learns "no such volume" (it then may Create).
        return {{"Err", ""}};
      }
    }
    default:
      throw Error(ErrorCode::kInternal, "unhandled endpoint");
  }
}

Reply Handler::Handle(const std::string& method, const std::string& target,
                      const std::string& body) {
  auto endpoint = ParseEndpoint(target);
  if (!endpoint) {
    return {404, ErrorBody("unknown endpoint " + target +
                           "; berthd serves Plugin.Activate and VolumeDriver.{Create, Remove, "
                           "Mount, Unmount, Path, Get, List, Capabilities}")};
  }
  if (method != "POST") {
    return {405, ErrorBody(method + " is not allowed on " + target + "; use POST")};
  }
  VolumeRequest request;
  if (TakesVolume(*endpoint)) {
    try {
      request = ParseVolumeRequest(*endpoint, body);
    } catch (const Error& e) {
      spdlog::warn("{}: bad request: {}", target, e.what());
      return {400, ErrorBody(e.what())};
    }
  }
  try {
    return {200, Dispatch(*endpoint, request)};
  } catch (const Error& e) {
    spdlog::error("{} {} failed: {}", target, request.name, e.what());
    return {200, ErrorBody(e.what())};
  } catch (const std::exception& e) {
    spdlog::error("{} failed: {}", target, e.what());
    return {500, ErrorBody(std::string("internal error: ") + e.what())};
  }
}

}  // namespace berth::docker
