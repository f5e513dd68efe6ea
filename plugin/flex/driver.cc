#include "plugin/flex/driver.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <optional>
#include <string_view>

#include "common/error.h"
#include "common/step_trace.h"
#include "engine/engine.h"

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

// What a verb's handler gets: the call, and what the row says the verb needs, loaded once.
struct VerbContext {
  const FlexCall& call;
  DriverKind driver;
  std::optional<VolumeRequest> request;  // from the call's options, when it has them
  std::optional<engine::Config> config;
  std::string backend;  // kEngine only
  // kConfig and kEngine: the engine the call runs on; berthd's, or `owned_engine`.
  engine::Engine* engine = nullptr;
  std::unique_ptr<engine::Engine> owned_engine;
  // A tenant volume (option user; its key in the pod's secret) is created, locked, mapped and
  // mounted in `mount`, the only call kubelet passes secrets to, and only with the tenant's key:
  // the controller's calls and waitforattach/mountdevice never touch it with the node's.
  bool tenant = false;
};

// Which drivers serve a verb.
enum class Serves {
  kAll,
  kAttachable,  // the controller's and node's attach/detach calls: berth/rbd only
  kExpansion,   // volume expansion: the RBD drivers (NFS directories have no size)
};

// What a verb needs before its handler runs.
enum class Needs { kNothing, kRequest, kConfig, kEngine };

struct Verb {
  std::string_view name;
  Serves serves;
  Needs needs;
  nlohmann::json (*run)(VerbContext& context);
};

nlohmann::json Init(VerbContext& c) { return InitReply(c.driver); }

nlohmann::json GetVolumeName(VerbContext& c) {
  nlohmann::json reply = SuccessReply();
  reply["volumeName"] = c.request->name;
  return reply;
}

nlohmann::json Unmount(VerbContext& c) {
  c.engine->Unpublish(c.call.target_path);
  return SuccessReply();
}

nlohmann::json UnmountDevice(VerbContext& c) {
  c.engine->Unstage(c.call.device_mount_path);
  return SuccessReply();
}

nlohmann::json Detach(VerbContext& c) {
  if (IsThisHost(*c.config, c.call.node_name)) {
    c.engine->ReleaseAlias(c.call.volume_name);
  } else {
    spdlog::info("detach {} from node {}: that node releases its own attachment at unmount",
                 c.call.volume_name, c.call.node_name);
  }
  return SuccessReply();
}

nlohmann::json Attach(VerbContext& c) {
  if (!c.tenant) {
    EnsureVolume(*c.engine, c.backend, *c.request);
  }
  nlohmann::json reply = SuccessReply();
  reply["device"] = "berth:" + c.request->name;
  return reply;
}

nlohmann::json IsAttached(VerbContext& c) {
  nlohmann::json reply = SuccessReply();
  if (c.tenant) {
    reply["attached"] = true;  // attach did nothing to undo; the node does the rest
    return reply;
  }
  try {
    c.engine->Get(c.request->name);
    reply["attached"] = true;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) {
      throw;
    }
    reply["attached"] = false;
  }
  return reply;
}

nlohmann::json WaitForAttach(VerbContext& c) {
  nlohmann::json reply = SuccessReply();
  if (c.tenant) {
    reply["device"] = c.call.device;
    return reply;
  }
  EnsureVolume(*c.engine, c.backend, *c.request);
  TraceStep("volume ensured");
  reply["device"] = c.engine->StageAttach(c.request->name, c.request->read_only, c.request->alias);
  return reply;
}

nlohmann::json MountDevice(VerbContext& c) {
  if (!c.tenant) {
    c.engine->StageMount(c.request->name, c.call.device_mount_path, c.request->read_only);
  }
  return SuccessReply();
}

nlohmann::json Mount(VerbContext& c) {
  if (c.tenant && c.request->key.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + c.request->name + " names cephx user " + c.request->user +
                    " but the pod's secret has no key (kubernetes.io/secret/key)");
  }
  // An attachable volume was created or adopted by attach/waitforattach already; the others
  // are attached here (lock, map, format if new, mount: Publish) and may need creating.
  if (c.tenant || !IsAttachable(c.driver)) {
    EnsureVolume(*c.engine, c.backend, *c.request);
  }
  c.engine->Publish(c.request->name, c.call.target_path, c.request->read_only, c.request->fs_group);
  return SuccessReply();
}

// kubelet passes no secret to either expansion call, and the node's user has no rights on a
// tenant's image (docs/kubernetes.md, "Secrets").
void RefuseTenantExpansion(const VerbContext& c) {
  if (c.tenant) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + c.request->name + " uses cephx user " + c.request->user +
                    " from the pod's secret, which kubelet does not pass to " + c.call.verb +
                    "; grow it with that user's key: berthctl resize " + c.request->name +
                    " SIZE, with a berth.json whose backend names that user");
  }
}

nlohmann::json ExpandVolume(VerbContext& c) {
  RefuseTenantExpansion(c);
  nlohmann::json reply = SuccessReply();
  reply["volumeNewSize"] = c.engine->GrowStorage(c.request->name, c.call.new_size);
  return reply;
}

nlohmann::json ExpandFs(VerbContext& c) {
  RefuseTenantExpansion(c);
  c.engine->GrowFilesystem(c.request->name);
  return SuccessReply();
}

// Every verb berth-flex answers; any other gets "Not supported", as kubelet expects.
constexpr Verb kHandlers[] = {
    {"init", Serves::kAll, Needs::kNothing, Init},
    {"getvolumename", Serves::kAll, Needs::kRequest, GetVolumeName},
    {"attach", Serves::kAttachable, Needs::kEngine, Attach},
    {"isattached", Serves::kAttachable, Needs::kEngine, IsAttached},
    {"waitforattach", Serves::kAttachable, Needs::kEngine, WaitForAttach},
    {"mountdevice", Serves::kAttachable, Needs::kEngine, MountDevice},
    {"mount", Serves::kAll, Needs::kEngine, Mount},
    {"unmount", Serves::kAll, Needs::kConfig, Unmount},
    {"unmountdevice", Serves::kAttachable, Needs::kConfig, UnmountDevice},
    {"detach", Serves::kAttachable, Needs::kConfig, Detach},
    {"expandvolume", Serves::kExpansion, Needs::kEngine, ExpandVolume},
    {"expandfs", Serves::kExpansion, Needs::kEngine, ExpandFs},
};

bool DriverServes(DriverKind driver, Serves serves) {
  switch (serves) {
    case Serves::kAll:
      return true;
    case Serves::kAttachable:
      return IsAttachable(driver);
    case Serves::kExpansion:
      return BackendType(driver) == "rbd";
  }
  return false;
}

}  // namespace

FlexDriver::FlexDriver(DriverKind driver, std::string config_path)
    : driver_(driver), config_path_(std::move(config_path)) {}

FlexDriver::FlexDriver(DriverKind driver, const engine::Config& config, engine::Engine& engine)
    : driver_(driver), shared_config_(&config), shared_engine_(&engine) {}

nlohmann::json FlexDriver::Run(const FlexCall& call) {
  const Verb* verb = nullptr;
  for (const auto& v : kHandlers) {
    if (v.name == call.verb) {
      verb = &v;
    }
  }
  if (verb == nullptr) {
    return NotSupportedReply("command '" + call.verb + "' is not supported");
  }
  if (!DriverServes(driver_, verb->serves)) {
    return NotSupportedReply("the berth/" + std::string(DriverName(driver_)) +
                             " driver attaches and mounts in `mount`; it has no " + call.verb);
  }
  VerbContext context{call, driver_, std::nullopt, std::nullopt, "", nullptr, nullptr, false};
  if (verb->needs == Needs::kRequest || verb->needs == Needs::kEngine) {
    if (!call.options) {
      throw Error(ErrorCode::kInvalidArgument, call.verb + " needs the volume's options (JSON)");
    }
    context.request = ParseVolumeRequest(driver_, *call.options);
  }
  // Its steps in one debug line, as berthd's Docker Mount logs them (common/step_trace.h).
  StepTrace trace("flex " + call.verb + (context.request ? " " + context.request->name : ""));
  if (verb->needs == Needs::kConfig || verb->needs == Needs::kEngine) {
    context.config = shared_config_ != nullptr ? *shared_config_ : engine::LoadConfig(config_path_);
    if (verb->needs == Needs::kEngine) {
      context.backend = ChooseBackend(driver_, *context.config, *context.request);
      context.tenant = !context.request->user.empty();
    }
    // A pod secret's cephx identity gets an engine of its own, even inside berthd.
    const bool own_identity = context.request && !context.request->key.empty();
    if (shared_engine_ != nullptr && !own_identity) {
      context.engine = shared_engine_;
    } else {
      context.owned_engine = verb->needs == Needs::kEngine
                                 ? MakeEngine(*context.config, context.backend, *context.request)
                                 : std::make_unique<engine::Engine>(*context.config);
      context.engine = context.owned_engine.get();
    }
  }
  return verb->run(context);
}

}  // namespace berth::flex
