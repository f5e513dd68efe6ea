#include "plugin/csi/create_request.h"

#include "common/error.h"
#include "plugin/csi/grpc_status.h"
#include "plugin/csi/volume_capability.h"

namespace berth::csi {

namespace {

uint64_t RoundUpToMiB(uint64_t bytes) {
  return (bytes + engine::kMiB - 1) / engine::kMiB * engine::kMiB;
}

void CheckRange(const ::csi::v1::CapacityRange& range) {
  if (range.required_bytes() < 0 || range.limit_bytes() < 0) {
    throw InvalidArgument("capacity_range has a negative size; give bytes from 1 MiB to 1 PiB");
  }
  if (static_cast<uint64_t>(range.required_bytes()) > engine::kMaxVolumeBytes) {
    throw InvalidArgument("capacity_range.required_bytes " +
                          std::to_string(range.required_bytes()) + " is over berth's 1 PiB limit");
  }
}

}  // namespace

uint64_t RequiredBytes(const ::csi::v1::CapacityRange& range) {
  CheckRange(range);
  return RoundUpToMiB(static_cast<uint64_t>(range.required_bytes()));
}

CreatePlan PlanCreate(const ::csi::v1::CreateVolumeRequest& request, const engine::Config& config) {
  if (request.name().empty()) {
    throw InvalidArgument("CreateVolume needs a name");
  }
  engine::ValidateVolumeName(request.name());
  CreatePlan plan;
  for (const auto& [key, value] : request.parameters()) {
    if (key.starts_with(kKubernetesParameterPrefix)) {
      continue;
    }
    if (key == "size") {
      throw InvalidArgument(
          "parameter size is not taken: the volume's size is the request's "
          "capacity_range (a PVC's storage request)");
    }
    plan.options[key] = value;  // ParseVolumeSpec refuses unknown ones, naming the known
  }
  plan.options.emplace("backend", config.default_backend);
  const auto backend = config.backends.find(plan.options["backend"]);
  if (backend == config.backends.end()) {
    std::string known;
    for (const auto& [name, unused] : config.backends) {
      known += (known.empty() ? "" : ", ") + name;
    }
    throw InvalidArgument("parameter backend '" + plan.options["backend"] +
                          "' is not configured; configured backends: " + known);
  }
  plan.backend_type = backend->second.type;
  if (request.volume_capabilities_size() == 0) {
    throw InvalidArgument("CreateVolume needs at least one volume capability");
  }
  bool mount = false;
  for (const auto& capability : request.volume_capabilities()) {
    const AccessRequest access = CheckCapability(capability, plan.backend_type);
    plan.block = plan.block || access.block;
    mount = mount || !access.block;
    if (capability.has_mount() && !capability.mount().fs_type().empty() &&
        plan.backend_type == "rbd" && !plan.options.contains("fstype")) {
      plan.options["fstype"] = capability.mount().fs_type();
    }
  }
  if (plan.block && mount) {
    throw InvalidArgument(
        "the capabilities ask for both a block and a mount volume; a volume is "
        "one or the other");
  }
  const std::string mode = plan.block ? "block" : "filesystem";
  if (const auto given = plan.options.find("volume_mode");
      given != plan.options.end() && given->second != mode) {
    throw InvalidArgument("parameter volume_mode is " + given->second +
                          " but the capabilities "
                          "ask for a " +
                          mode + " volume");
  }
  if (plan.block) {
    plan.options["volume_mode"] = "block";
  }
  if (request.has_capacity_range()) {
    const auto& range = request.capacity_range();
    uint64_t size = RequiredBytes(range);
    const auto limit = static_cast<uint64_t>(range.limit_bytes());
    if (size == 0 && limit > 0) {
      size = limit / engine::kMiB * engine::kMiB;
    }
    if (limit > 0 && (size > limit || size == 0)) {
      throw StatusError(grpc::StatusCode::OUT_OF_RANGE,
                        "capacity_range asks for at least " +
                            std::to_string(range.required_bytes()) + " and at most " +
                            std::to_string(limit) +
                            " bytes; berth sizes volumes in whole MiB, which that range excludes");
    }
    if (size > 0) {
      plan.options["size"] = std::to_string(size) + "B";
    }
  }
  // Every option is checked now, before anything is created (the engine checks again).
  engine::ParseVolumeSpec(request.name(), plan.options, config);
  return plan;
}

}  // namespace berth::csi
