#include "plugin/docker/handler.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>

#include "common/error.h"
#include "engine/volume_status.h"

namespace berth::docker {

nlohmann::json Handler::VolumeJson(const engine::VolumeRecord& record,
                                   const std::optional<engine::HostVolumeState>& local) {
  nlohmann::json volume = {{"Name", record.spec.name}, {"CreatedAt", record.created_at}};
  if (local && !local->mount_path.empty()) {
    volume["Mountpoint"] = local->mount_path;
  }
  return volume;
}

namespace {

std::string OperationName(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kActivate:
      return "activate";
    case Endpoint::kCreate:
      return "create";
    case Endpoint::kRemove:
      return "remove";
    case Endpoint::kMount:
      return "mount";
    case Endpoint::kUnmount:
      return "unmount";
    case Endpoint::kPath:
      return "path";
    case Endpoint::kGet:
      return "get";
    case Endpoint::kList:
      return "list";
    case Endpoint::kCapabilities:
      return "capabilities";
    case Endpoint::kFlex:
      return "flex";
  }
  return "unknown";
}

}  // namespace

void Handler::Learn(const engine::VolumeRecord& record, Outcome* outcome) {
  if (metrics_ != nullptr) {
    metrics_->Learn(record.spec.name, record.spec.backend);
  }
  if (outcome != nullptr) {
    outcome->backend = record.spec.backend;
  }
}

nlohmann::json Handler::Dispatch(Endpoint endpoint, const VolumeRequest& request,
                                 Outcome& outcome) {
  switch (endpoint) {
    case Endpoint::kActivate:
      return {{"Implements", {"VolumeDriver"}}};
    case Endpoint::kCapabilities:
      return {{"Capabilities", {{"Scope", "global"}}}};
    case Endpoint::kList: {
      nlohmann::json volumes = nlohmann::json::array();
      engine_.VisitCached([&](const engine::VolumeRecord& record,
                              const std::optional<engine::HostVolumeState>& local) {
        Learn(record);
        volumes.push_back(VolumeJson(record, local));
      });
      return {{"Volumes", volumes}, {"Err", ""}};
    }
    default:
      break;
  }
  switch (endpoint) {
    case Endpoint::kCreate: {
      // The record says where the volume lives, whatever the request left to defaults.
      Learn(engine_.Create(request.name, request.options), &outcome);
      return {{"Err", ""}};
    }
    case Endpoint::kRemove:
      engine_.Remove(request.name);
      if (metrics_ != nullptr) {
        metrics_->Forget(request.name);
      }
      return {{"Err", ""}};
    case Endpoint::kMount: {
      const std::string mount_path = engine_.Mount(request.name, request.id).mount_path;
      if (metrics_ != nullptr && outcome.backend.empty()) {
        outcome.backend = metrics_->BackendOf(request.name);  // the host state has it now
      }
      return {{"Mountpoint", mount_path}, {"Err", ""}};
    }
    case Endpoint::kUnmount:
      engine_.Unmount(request.name, request.id);
      return {{"Err", ""}};
    case Endpoint::kPath: {
      auto info = engine_.GetCached(request.name, engine::Engine::Holders::kSkip);
      Learn(info.record, &outcome);
      nlohmann::json reply = {{"Err", ""}};
      if (info.local && !info.local->mount_path.empty()) {
        reply["Mountpoint"] = info.local->mount_path;
      }
      return reply;
    }
    case Endpoint::kGet: {
      try {
        auto info = engine_.GetCached(request.name);
        Learn(info.record, &outcome);
        auto volume = VolumeJson(info.record, info.local);
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
  const auto start = std::chrono::steady_clock::now();
  Outcome outcome;
  Reply reply = Serve(method, target, body, outcome);
  if (metrics_ != nullptr) {
    try {
      metrics_->RecordOperation(outcome.operation, outcome.backend,
                                std::chrono::steady_clock::now() - start, outcome.error);
    } catch (const std::exception& e) {
      spdlog::warn("metrics: cannot record {}: {}", outcome.operation, e.what());
    }
  }
  return reply;
}

Reply Handler::Busy(const std::string& volume, const std::string& operation,
                    const std::string& in_flight) {
  if (metrics_ != nullptr) {
    try {
      std::string name = operation;
      for (auto& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      metrics_->RecordOperation(name, "", std::chrono::steady_clock::duration::zero(),
                                ErrorCode::kBusy);
    } catch (const std::exception& e) {
      spdlog::warn("metrics: cannot record {}: {}", operation, e.what());
    }
  }
  spdlog::warn("{} of volume {} refused: still waiting behind {}", operation, volume, in_flight);
  return {200, ErrorBody("volume " + volume + " is busy: " + in_flight +
                         " is still working on it, and this " + operation +
                         " waited its limit (busy_wait_seconds); retry once it finishes")};
}

Reply Handler::Serve(const std::string& method, const std::string& target, const std::string& body,
                     Outcome& outcome) {
  auto endpoint = ParseEndpoint(target);
  if (!endpoint) {
    outcome.error = ErrorCode::kInvalidArgument;
    return {404, ErrorBody("unknown endpoint " + target +
                           "; berthd serves Plugin.Activate and VolumeDriver.{Create, Remove, "
                           "Mount, Unmount, Path, Get, List, Capabilities}, and berth-flex's "
                           "Berth.Flex")};
  }
  outcome.operation = OperationName(*endpoint);
  if (method != "POST") {
    outcome.error = ErrorCode::kInvalidArgument;
    return {405, ErrorBody(method + " is not allowed on " + target + "; use POST")};
  }
  if (*endpoint == Endpoint::kFlex) {
    if (!flex_) {
      outcome.error = ErrorCode::kNotFound;
      return {404, ErrorBody("this berthd serves no FlexVolume calls")};
    }
    Reply reply = flex_(body);
    if (reply.status != 200) {
      outcome.error = reply.status == 409 ? ErrorCode::kConflict : ErrorCode::kInvalidArgument;
    }
    return reply;
  }
  VolumeRequest request;
  if (TakesVolume(*endpoint)) {
    try {
      request = ParseVolumeRequest(*endpoint, body);
    } catch (const Error& e) {
      spdlog::warn("{}: bad request: {}", target, e.what());
      outcome.error = e.code();
      return {400, ErrorBody(e.what())};
    }
  }
  if (metrics_ != nullptr && TakesVolume(*endpoint)) {
    auto backend = request.options.find("backend");
    outcome.backend = *endpoint != Endpoint::kCreate     ? metrics_->BackendOf(request.name)
                      : backend != request.options.end() ? backend->second
                                                         : engine_.config().default_backend;
  }
  try {
    return {200, Dispatch(*endpoint, request, outcome)};
  } catch (const Error& e) {
    spdlog::error("{} {} failed: {}", target, request.name, e.what());
    outcome.error = e.code();
    return {200, ErrorBody(e.what())};
  } catch (const std::exception& e) {
    spdlog::error("{} failed: {}", target, e.what());
    outcome.error = ErrorCode::kInternal;
    return {500, ErrorBody(std::string("internal error: ") + e.what())};
  }
}

}  // namespace berth::docker
