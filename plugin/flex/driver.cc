#include "plugin/flex/driver.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <memory>

#include "common/error.h"
#include "engine/engine.h"
#include "engine/instance_id.h"

namespace berth::flex {

namespace {

// The backend a call uses: option `backend`, else the default backend if it has the driver's
// type, else the first backend of that type.
std::string ChooseBackend(DriverKind driver, const engine::Config& config,
                          const VolumeRequest& request) {
  const std::string type(BackendType(driver));
  if (auto it = request.create_options.find("backend"); it != request.create_options.end()) {
    auto backend = config.backends.find(it->second);
    if (backend == config.backends.end() || backend->second.type != type) {
      throw Error(ErrorCode::kInvalidArgument, "backend '" + it->second + "' is not an " + type +
                                                   " backend of this host's berth config");
    }
    return it->second;
  }
  if (auto it = config.backends.find(config.default_backend);
      it != config.backends.end() && it->second.type == type) {
    return it->first;
  }
  for (const auto& [name, backend] : config.backends) {
    if (backend.type == type) {
      return name;
    }
  }
  throw Error(ErrorCode::kInvalidArgument, "this host's berth config has no " + type +
                                               " backend for the berth/" +
                                               std::string(DriverName(driver)) + " driver");
}

// An engine whose `backend` authenticates with the pod secret's cephx identity, if given.
std::unique_ptr<engine::Engine> MakeEngine(const engine::Config& config, const std::string& backend,
                                           const VolumeRequest& request) {
  if (request.key.empty()) {
    return std::make_unique<engine::Engine>(config);
  }
  return std::make_unique<engine::Engine>(
      config, engine::CredentialOverrides{{backend, {request.user, request.key}}});
}

// Creates the volume if it is missing and may be, through the engine's one adopt policy: an
// existing RBD image is adopted only when option `image` names it.
void EnsureVolume(engine::Engine& engine, const std::string& backend,
                  const VolumeRequest& request) {
  engine::Options options = request.create_options;
  options["backend"] = backend;
  try {
    engine.EnsureVolume(request.name, options, request.create);
  } catch (const Error& e) {
    // Creating helps unless the options name an image of another name, which is only adopted.
    const auto image = options.find("image");
    if (e.code() != ErrorCode::kNotFound || request.create ||
        (image != options.end() && image->second != request.name)) {
      throw;
    }
    throw Error(ErrorCode::kNotFound,
                std::string(e.what()) + "; set option create: \"true\" to create it");
  }
}

bool IsThisHost(const engine::Config& config, const std::string& node) {
  std::array<char, 256> host{};
  ::gethostname(host.data(), host.size() - 1);
  return node == config.host_id || node == host.data();
}

}  // namespace

nlohmann::json SuccessReply() { return {{"status", "Success"}}; }

nlohmann::json FailureReply(const std::string& message) {
  return {{"status", "Failure"}, {"message", message}};
}

nlohmann::json NotSupportedReply(const std::string& message) {
  return {{"status", "Not supported"}, {"message", message}};
}

nlohmann::json InitReply(DriverKind driver) {
  nlohmann::json reply = SuccessReply();
  reply["capabilities"] = {{"attach", IsAttachable(driver)},
                           {"fsGroup", false},
                           {"supportsMetrics", true},
                           {"requiresFSResize", BackendType(driver) == "rbd"}};
  return reply;
}

FlexDriver::FlexDriver(DriverKind driver, std::string config_path)
    : driver_(driver), config_path_(std::move(config_path)) {}

nlohmann::json FlexDriver::Run(const FlexCall& call) {
  const std::string& verb = call.verb;
  if (verb == "init") {
    return InitReply(driver_);
  }
  const bool attachable = IsAttachable(driver_);
  const bool node_flow = verb == "mount" || verb == "unmount" || verb == "getvolumename";
  const bool expansion =
      BackendType(driver_) == "rbd" && (verb == "expandvolume" || verb == "expandfs");
  if (!attachable && !node_flow && !expansion) {
    return NotSupportedReply("the berth/" + std::string(DriverName(driver_)) +
                             " driver attaches and mounts in `mount`; it has no " + verb);
  }

  std::optional<VolumeRequest> request;
  if (call.options) {
    request = ParseVolumeRequest(driver_, *call.options);
  }
  if (verb == "getvolumename") {
    nlohmann::json reply = SuccessReply();
    reply["volumeName"] = request->name;
    return reply;
  }

  const engine::Config config = engine::LoadConfig(config_path_);
  if (verb == "unmount") {
    engine::Engine(config).Unpublish(call.target_path);
    return SuccessReply();
  }
  if (verb == "unmountdevice") {
    engine::Engine(config).Unstage(call.device_mount_path);
    return SuccessReply();
  }
  if (verb == "detach") {
    if (IsThisHost(config, call.node_name)) {
      engine::Engine(config).ReleaseAlias(call.volume_name);
    } else {
      spdlog::info("detach {} from node {}: that node releases its own attachment at unmount",
                   call.volume_name, call.node_name);
    }
    return SuccessReply();
  }

  const std::string backend = ChooseBackend(driver_, config, *request);
  auto engine = MakeEngine(config, backend, *request);
  // A tenant volume (option user; its key in the pod's secret) is created, locked, mapped and
  // mounted in `mount`, the only call kubelet passes secrets to, and only with the tenant's key:
  // the controller's calls and waitforattach/mountdevice never touch it with the node's.
  const bool tenant = !request->user.empty();

  if (verb == "attach") {
    if (!tenant) {
      EnsureVolume(*engine, backend, *request);
    }
    nlohmann::json reply = SuccessReply();
    reply["device"] = "berth:" + request->name;
    return reply;
  }
  if (verb == "isattached") {
    nlohmann::json reply = SuccessReply();
    if (tenant) {
      reply["attached"] = true;  // attach did nothing to undo; the node does the rest
      return reply;
    }
    try {
      engine->Get(request->name);
      reply["attached"] = true;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) {
        throw;
      }
      reply["attached"] = false;
    }
    return reply;
  }
  if (verb == "waitforattach") {
    nlohmann::json reply = SuccessReply();
    if (tenant) {
      reply["device"] = call.device;
      return reply;
    }
    EnsureVolume(*engine, backend, *request);
    reply["device"] = engine->StageAttach(request->name, request->read_only, request->alias);
    return reply;
  }
  if (verb == "mountdevice") {
    if (!tenant) {
      engine->StageMount(request->name, call.device_mount_path, request->read_only);
    }
    return SuccessReply();
  }
  if (verb == "mount") {
    if (tenant && request->key.empty()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "volume " + request->name + " names cephx user " + request->user +
                      " but the pod's secret has no key (kubernetes.io/secret/key)");
    }
    // An attachable volume was created or adopted by attach/waitforattach already; the others
    // are attached here (lock, map, format if new, mount: Publish) and may need creating.
    if (tenant || !attachable) {
      EnsureVolume(*engine, backend, *request);
    }
    engine->Publish(request->name, call.target_path, request->read_only, request->fs_group);
    return SuccessReply();
  }
  if (tenant && (verb == "expandvolume" || verb == "expandfs")) {
    // kubelet passes no secret to either, and the node's user has no rights on a tenant's
    // image (docs/kubernetes.md, "Secrets").
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + request->name + " uses cephx user " + request->user +
                    " from the pod's secret, which kubelet does not pass to " + verb +
                    "; grow it with that user's key: berthctl resize " + request->name +
                    " SIZE, with a berth.json whose backend names that user");
  }
  if (verb == "expandvolume") {
    nlohmann::json reply = SuccessReply();
    reply["volumeNewSize"] = engine->GrowStorage(request->name, call.new_size);
    return reply;
  }
  if (verb == "expandfs") {
    engine->GrowFilesystem(request->name);
    return SuccessReply();
  }
  return NotSupportedReply("command '" + verb + "' is not supported");
}

}  // namespace berth::flex
