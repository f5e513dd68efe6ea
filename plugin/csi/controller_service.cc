#include "plugin/csi/controller_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/error.h"
#include "engine/volume_spec.h"
#include "plugin/csi/call_engine.h"
#include "plugin/csi/create_request.h"
#include "plugin/csi/grpc_status.h"
#include "plugin/csi/ids.h"
#include "plugin/csi/volume_capability.h"

namespace berth::csi {

namespace {

using ::csi::v1::ControllerServiceCapability;

// The type of the volume's backend; a backend no longer in the config is kNotFound.
std::string TypeOf(const engine::Engine& engine, const engine::VolumeRecord& record) {
  const auto backend = engine.config().backends.find(record.spec.backend);
  if (backend == engine.config().backends.end()) {
    throw Error(ErrorCode::kNotFound, "volume " + record.spec.name + "'s backend " +
                                          record.spec.backend + " is not in this host's config");
  }
  return backend->second.type;
}

// What the volume's record and lock holders say of its health; the published nodes are the
// berth hosts holding it read-write.
template <typename Status>
void FillStatus(const engine::VolumeRecord& record, const std::vector<engine::HolderInfo>& holders,
                Status* status) {
  std::string foreign;
  for (const auto& holder : holders) {
    if (holder.host_id.empty()) {
      foreign += (foreign.empty() ? "" : ", ") + holder.client + " at " + holder.address;
    } else {
      status->add_published_node_ids(holder.host_id);
    }
  }
  auto* condition = status->mutable_volume_condition();
  if (!foreign.empty()) {
    condition->set_abnormal(true);
    condition->set_message("locked by a Ceph client that is not a berth host: " + foreign);
  } else if (record.grow_pending) {
    condition->set_abnormal(true);
    condition->set_message(
        "its storage grew but its filesystem has not yet; it grows at the next read-write mount");
  } else {
    condition->set_message("registered and sound");
  }
}

void FillVolume(const engine::Engine& engine, const engine::VolumeRecord& record,
                ::csi::v1::Volume* volume) {
  volume->set_volume_id(record.spec.name);
  volume->set_capacity_bytes(static_cast<int64_t>(record.spec.size_bytes));
  (*volume->mutable_volume_context())["backend"] = record.spec.backend;
  (*volume->mutable_volume_context())["type"] = TypeOf(engine, record);
  if (!record.cloned_from.empty()) {
    volume->mutable_content_source()->mutable_snapshot()->set_snapshot_id(record.cloned_from);
  }
}

// A page size from a request: 0 is "all"; negative is INVALID_ARGUMENT.
size_t PageSize(int32_t max_entries) {
  if (max_entries < 0) {
    throw InvalidArgument("max_entries is negative; give 0 for all, or a page size");
  }
  return max_entries == 0 ? SIZE_MAX : static_cast<size_t>(max_entries);
}

// A token must be one this service could have given: ABORTED otherwise, as the spec asks.
void CheckToken(const std::string& token, bool valid) {
  if (!token.empty() && !valid) {
    throw StatusError(grpc::StatusCode::ABORTED,
                      "starting_token '" + token + "' was not given by this driver");
  }
}

void FillSnapshot(const std::string& volume, const engine::SnapshotInfo& info,
                  ::csi::v1::Snapshot* snapshot) {
  snapshot->set_snapshot_id(SnapshotId{volume, info.name}.ToString());
  snapshot->set_source_volume_id(volume);
  snapshot->set_size_bytes(static_cast<int64_t>(info.size));
  snapshot->mutable_creation_time()->set_seconds(info.created);
  snapshot->set_ready_to_use(true);
}

std::optional<engine::SnapshotInfo> FindSnapshot(engine::Engine& engine, const SnapshotId& id) {
  for (auto& info : engine.ListSnapshots(id.volume)) {
    if (info.name == id.snapshot) {
      return info;
    }
  }
  return std::nullopt;
}

// Whether volume `name` may exist as the copy of `from`, finished or not; true when the registry
// cannot tell.
bool MayBeCloneOf(engine::Engine& engine, const std::string& name, const SnapshotId& from) {
  try {
    return engine.Get(name).record.cloned_from == from.ToString();
  } catch (const Error& e) {
    return e.code() != ErrorCode::kNotFound;
  }
}

// The prefix of the snapshots berth-csi takes to clone a volume from a volume; ListSnapshots
// does not show them.
constexpr std::string_view kCloneSnapshotPrefix = "csi-clone-";

// Kubernetes' restore and clone: the new volume is a flattened clone of the source snapshot, or
// of a snapshot of the source volume taken for it and removed once the clone stands alone. The
// request must fit the source (same mode and backend, a limit not below its size). Idempotent:
// an existing volume cloned from the same source is the answer, any other is ALREADY_EXISTS.
engine::VolumeRecord CreateFromSource(engine::Engine& engine,
                                      const ::csi::v1::CreateVolumeRequest& request,
                                      const CreatePlan& plan) {
  const auto& source = request.volume_content_source();
  const std::string& name = request.name();
  SnapshotId from;
  bool temporary = false;
  uint64_t source_bytes = 0;
  engine::VolumeRecord origin;
  if (source.has_snapshot()) {
    try {
      from = ParseSnapshotId(source.snapshot().snapshot_id());
    } catch (const Error&) {
      throw Error(ErrorCode::kNotFound,
                  "snapshot " + source.snapshot().snapshot_id() + " does not exist");
    }
    origin = engine.Get(from.volume).record;
    const auto snapshot = FindSnapshot(engine, from);
    if (!snapshot) {
      throw Error(ErrorCode::kNotFound, "snapshot " + from.ToString() + " does not exist");
    }
    source_bytes = snapshot->size;
  } else if (source.has_volume()) {
    RequireVolumeId(source.volume().volume_id());
    origin = engine.Get(source.volume().volume_id()).record;
    from = {origin.spec.name, std::string(kCloneSnapshotPrefix) + name};
    temporary = true;
    source_bytes = origin.spec.size_bytes;
  } else {
    throw InvalidArgument("volume_content_source names neither a snapshot nor a volume");
  }
  if (plan.block != origin.spec.block) {
    throw InvalidArgument(
        "the source " + from.volume + " is a " + (origin.spec.block ? "block" : "filesystem") +
        " volume; its copy cannot be a " + (plan.block ? "block" : "filesystem") + " volume");
  }
  if (request.parameters().contains("backend") &&
      plan.options.at("backend") != origin.spec.backend) {
    throw InvalidArgument("a copy of " + from.volume + " stays on its backend " +
                          origin.spec.backend + ", not " + plan.options.at("backend"));
  }
  const auto limit = static_cast<uint64_t>(request.capacity_range().limit_bytes());
  if (limit > 0 && limit < source_bytes) {
    throw StatusError(grpc::StatusCode::OUT_OF_RANGE,
                      "capacity_range.limit_bytes " + std::to_string(limit) + " is below the " +
                          std::to_string(source_bytes) + " bytes of the source");
  }
  bool clone = true;
  try {
    const engine::VolumeRecord existing = engine.Get(name).record;
    if (existing.cloned_from != from.ToString()) {
      throw StatusError(
          grpc::StatusCode::ALREADY_EXISTS,
          "volume " + name + " already exists, and is not a copy of " + from.ToString());
    }
    // Finished unless its temporary snapshot is still there (it goes only once the copy is done).
    clone = !temporary || FindSnapshot(engine, from).has_value();
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) {
      throw;
    }
  }
  if (clone) {
    if (temporary && !FindSnapshot(engine, from)) {
      engine.CreateSnapshot(from.volume, from.snapshot);
    }
    try {
      engine.Clone(from.volume, from.snapshot, name, true, nullptr);
    } catch (const Error& e) {
      // Once Clone has registered the new volume, its temporary snapshot is what tells a retry
      // that the copy is unfinished (see above): it stays until the copy is done.
      if (temporary && !MayBeCloneOf(engine, name, from)) {
        try {
          engine.RemoveSnapshot(from.volume, from.snapshot);
        } catch (const Error& removal) {
          spdlog::warn("clone {}: cannot remove the snapshot {}: {}", name, from.ToString(),
                       removal.what());
        }
      }
      if (e.code() == ErrorCode::kConflict) {
        throw StatusError(grpc::StatusCode::ALREADY_EXISTS, e.what());
      }
      throw;
    }
    if (temporary) {
      engine.RemoveSnapshot(from.volume, from.snapshot);
    }
  }
  engine::VolumeRecord record = engine.Get(name).record;
  if (const auto size = plan.options.find("size"); size != plan.options.end()) {
    const uint64_t wanted = engine::ParseSize(size->second);
    if (wanted > record.spec.size_bytes) {
      engine.GrowStorage(name, wanted);
      record = engine.Get(name).record;
    }
  }
  return record;
}

}  // namespace

grpc::Status ControllerService::CreateVolume(grpc::ServerContext* /*context*/,
                                             const ::csi::v1::CreateVolumeRequest* request,
                                             ::csi::v1::CreateVolumeResponse* response) {
  return Serve("CreateVolume " + request->name(), [&] {
    const CreatePlan plan = PlanCreate(*request, engine_.config());
    auto guard = in_flight_.Begin(request->name());
    CallEngine engine(engine_, request->secrets());
    engine::VolumeRecord record;
    if (request->has_volume_content_source()) {
      record = CreateFromSource(*engine, *request, plan);
    } else {
      try {
        record = engine->Create(request->name(), plan.options);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kConflict) {
          throw StatusError(grpc::StatusCode::ALREADY_EXISTS, e.what());
        }
        throw;
      }
    }
    FillVolume(*engine, record, response->mutable_volume());
    if (request->has_volume_content_source()) {
      *response->mutable_volume()->mutable_content_source() = request->volume_content_source();
    }
  });
}

grpc::Status ControllerService::DeleteVolume(grpc::ServerContext* /*context*/,
                                             const ::csi::v1::DeleteVolumeRequest* request,
                                             ::csi::v1::DeleteVolumeResponse* /*response*/) {
  return Serve("DeleteVolume " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    auto guard = in_flight_.Begin(request->volume_id());
    CallEngine engine(engine_, request->secrets());
    try {
      engine->Remove(request->volume_id());
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) {
        throw;
      }
      spdlog::info("DeleteVolume {}: no such volume, nothing to do", request->volume_id());
    }
  });
}

grpc::Status ControllerService::ControllerPublishVolume(
    grpc::ServerContext* /*context*/, const ::csi::v1::ControllerPublishVolumeRequest* request,
    ::csi::v1::ControllerPublishVolumeResponse* response) {
  return Serve("ControllerPublishVolume " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    if (request->node_id().empty()) {
      throw InvalidArgument("node_id is missing");
    }
    if (!request->has_volume_capability()) {
      throw InvalidArgument("volume_capability is missing");
    }
    CallEngine engine(engine_, request->secrets());
    const engine::VolumeInfo info = engine->Get(request->volume_id());
    const AccessRequest access = CheckVolumeCapability(
        request->volume_capability(), info.record.spec, TypeOf(*engine, info.record));
    const bool read_only = request->readonly() || access.read_only || info.record.spec.read_only;
    if (!read_only) {
      for (const auto& holder : info.holders) {
        if (holder.host_id != request->node_id()) {
          throw Error(ErrorCode::kBusy,
                      "volume " + request->volume_id() + " is attached read-write on host " +
                          (holder.host_id.empty() ? holder.client : holder.host_id) +
                          "; it attaches to node " + request->node_id() +
                          " once that host "
                          "releases it (or `berthctl lock break --fence` after that host died)");
        }
      }
    }
    (*response->mutable_publish_context())["readonly"] = read_only ? "true" : "false";
  });
}

grpc::Status ControllerService::ControllerUnpublishVolume(
    grpc::ServerContext* /*context*/, const ::csi::v1::ControllerUnpublishVolumeRequest* request,
    ::csi::v1::ControllerUnpublishVolumeResponse* /*response*/) {
  return Serve("ControllerUnpublishVolume " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    spdlog::info("ControllerUnpublishVolume {} from node {}: the node released it at unstage",
                 request->volume_id(), request->node_id());
  });
}

grpc::Status ControllerService::ValidateVolumeCapabilities(
    grpc::ServerContext* /*context*/, const ::csi::v1::ValidateVolumeCapabilitiesRequest* request,
    ::csi::v1::ValidateVolumeCapabilitiesResponse* response) {
  return Serve("ValidateVolumeCapabilities " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    if (request->volume_capabilities_size() == 0) {
      throw InvalidArgument("volume_capabilities is empty");
    }
    CallEngine engine(engine_, request->secrets());
    const engine::VolumeInfo info = engine->Get(request->volume_id());
    const std::string type = TypeOf(*engine, info.record);
    for (const auto& capability : request->volume_capabilities()) {
      try {
        CheckVolumeCapability(capability, info.record.spec, type);
      } catch (const Error& e) {
        response->set_message(e.what());
        return;
      }
    }
    *response->mutable_confirmed()->mutable_volume_capabilities() = request->volume_capabilities();
    *response->mutable_confirmed()->mutable_volume_context() = request->volume_context();
  });
}

grpc::Status ControllerService::ListVolumes(grpc::ServerContext* /*context*/,
                                            const ::csi::v1::ListVolumesRequest* request,
                                            ::csi::v1::ListVolumesResponse* response) {
  return Serve("ListVolumes", [&] {
    const size_t page = PageSize(request->max_entries());
    const std::string& token = request->starting_token();
    bool token_valid = true;
    try {
      if (!token.empty()) {
        engine::ValidateVolumeName(token);
      }
    } catch (const Error&) {
      token_valid = false;
    }
    CheckToken(token, token_valid);
    auto volumes = engine_.List();
    std::sort(volumes.begin(), volumes.end(),
              [](const auto& a, const auto& b) { return a.record.spec.name < b.record.spec.name; });
    for (const auto& info : volumes) {
      if (info.record.spec.name < token) {
        continue;
      }
      if (static_cast<size_t>(response->entries_size()) == page) {
        response->set_next_token(info.record.spec.name);
        break;
      }
      auto* entry = response->add_entries();
      FillVolume(engine_, info.record, entry->mutable_volume());
      // List reads no lock holders (one registry read for all): the condition is the record's.
      FillStatus(info.record, {}, entry->mutable_status());
    }
  });
}

grpc::Status ControllerService::ControllerGetVolume(
    grpc::ServerContext* /*context*/, const ::csi::v1::ControllerGetVolumeRequest* request,
    ::csi::v1::ControllerGetVolumeResponse* response) {
  return Serve("ControllerGetVolume " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    const engine::VolumeInfo info = engine_.Get(request->volume_id());
    FillVolume(engine_, info.record, response->mutable_volume());
    FillStatus(info.record, info.holders, response->mutable_status());
  });
}

grpc::Status ControllerService::ControllerExpandVolume(
    grpc::ServerContext* /*context*/, const ::csi::v1::ControllerExpandVolumeRequest* request,
    ::csi::v1::ControllerExpandVolumeResponse* response) {
  return Serve("ControllerExpandVolume " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    const uint64_t wanted = RequiredBytes(request->capacity_range());
    if (wanted == 0) {
      throw InvalidArgument("capacity_range.required_bytes is missing; give the new size");
    }
    auto guard = in_flight_.Begin(request->volume_id());
    CallEngine engine(engine_, request->secrets());
    const engine::VolumeRecord record = engine->Get(request->volume_id()).record;
    const auto limit = static_cast<uint64_t>(request->capacity_range().limit_bytes());
    if (limit > 0 && wanted > limit) {
      throw StatusError(grpc::StatusCode::OUT_OF_RANGE,
                        "required_bytes rounded up to whole MiB exceeds limit_bytes");
    }
    uint64_t size = record.spec.size_bytes;
    if (wanted > size) {
      size = engine->GrowStorage(request->volume_id(), wanted);
    }
    response->set_capacity_bytes(static_cast<int64_t>(size));
    response->set_node_expansion_required(TypeOf(*engine, record) == "rbd");
  });
}

grpc::Status ControllerService::CreateSnapshot(grpc::ServerContext* /*context*/,
                                               const ::csi::v1::CreateSnapshotRequest* request,
                                               ::csi::v1::CreateSnapshotResponse* response) {
  return Serve("CreateSnapshot " + request->name(), [&] {
    RequireVolumeId(request->source_volume_id());
    if (request->name().empty()) {
      throw InvalidArgument("CreateSnapshot needs a name");
    }
    if (!request->parameters().empty()) {
      throw InvalidArgument("snapshot parameters ('" + request->parameters().begin()->first +
                            "', ...) are not taken: a berth snapshot has no options");
    }
    const SnapshotId id{request->source_volume_id(), request->name()};
    auto guard = in_flight_.Begin(id.volume);
    auto name_guard = in_flight_.Begin("snapshot name " + id.snapshot);
    CallEngine engine(engine_, request->secrets());
    auto found = FindSnapshot(*engine, id);
    if (!found) {
      // CSI snapshot names are unique across volumes: the same name on another volume is a
      // different snapshot.
      for (const auto& other : engine->List()) {
        if (other.record.spec.name == id.volume) {
          continue;
        }
        try {
          if (FindSnapshot(*engine, {other.record.spec.name, id.snapshot})) {
            throw StatusError(grpc::StatusCode::ALREADY_EXISTS, "snapshot name " + id.snapshot +
                                                                    " is taken by a snapshot of " +
                                                                    other.record.spec.name);
          }
        } catch (const Error&) {
          // A volume whose snapshots cannot be listed (gone, or kept by no store) holds none.
        }
      }
      engine->CreateSnapshot(id.volume, id.snapshot);
      found = FindSnapshot(*engine, id);
    }
    if (!found) {
      throw Error(ErrorCode::kInternal, "snapshot " + id.ToString() + " vanished once taken");
    }
    FillSnapshot(id.volume, *found, response->mutable_snapshot());
  });
}

grpc::Status ControllerService::DeleteSnapshot(grpc::ServerContext* /*context*/,
                                               const ::csi::v1::DeleteSnapshotRequest* request,
                                               ::csi::v1::DeleteSnapshotResponse* /*response*/) {
  return Serve("DeleteSnapshot " + request->snapshot_id(), [&] {
    SnapshotId id;
    try {
      id = ParseSnapshotId(request->snapshot_id());
    } catch (const Error&) {
      spdlog::info("DeleteSnapshot {}: not an id berth-csi gives; no such snapshot",
                   request->snapshot_id());
      return;
    }
    auto guard = in_flight_.Begin(id.volume);
    CallEngine engine(engine_, request->secrets());
    try {
      engine->RemoveSnapshot(id.volume, id.snapshot);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) {
        throw;
      }
      spdlog::info("DeleteSnapshot {}: no such snapshot, nothing to do", id.ToString());
    }
  });
}

grpc::Status ControllerService::ListSnapshots(grpc::ServerContext* /*context*/,
                                              const ::csi::v1::ListSnapshotsRequest* request,
                                              ::csi::v1::ListSnapshotsResponse* response) {
  return Serve("ListSnapshots", [&] {
    const size_t page = PageSize(request->max_entries());
    const std::string& token = request->starting_token();
    bool token_valid = true;
    try {
      if (!token.empty()) {
        ParseSnapshotId(token);
      }
    } catch (const Error&) {
      token_valid = false;
    }
    CheckToken(token, token_valid);
    CallEngine engine(engine_, request->secrets());
    std::vector<std::string> volumes;
    std::optional<SnapshotId> only;
    if (!request->snapshot_id().empty()) {
      try {
        only = ParseSnapshotId(request->snapshot_id());
      } catch (const Error&) {
        return;  // no snapshot has that id: an empty list, as the spec asks
      }
      volumes.push_back(only->volume);
    } else if (!request->source_volume_id().empty()) {
      volumes.push_back(request->source_volume_id());
    } else {
      for (const auto& info : engine->List()) {
        volumes.push_back(info.record.spec.name);
      }
    }
    std::vector<::csi::v1::Snapshot> snapshots;
    for (const auto& volume : volumes) {
      std::vector<engine::SnapshotInfo> infos;
      try {
        infos = engine->ListSnapshots(volume);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kNotFound || e.code() == ErrorCode::kInvalidArgument) {
          continue;  // gone meanwhile, or a backend that keeps no snapshots
        }
        throw;
      }
      for (const auto& info : infos) {
        if ((!only || only->snapshot == info.name) &&
            !info.name.starts_with(kCloneSnapshotPrefix)) {
          FillSnapshot(volume, info, &snapshots.emplace_back());
        }
      }
    }
    std::sort(snapshots.begin(), snapshots.end(),
              [](const auto& a, const auto& b) { return a.snapshot_id() < b.snapshot_id(); });
    for (auto& snapshot : snapshots) {
      if (snapshot.snapshot_id() < token) {
        continue;
      }
      if (static_cast<size_t>(response->entries_size()) == page) {
        response->set_next_token(snapshot.snapshot_id());
        break;
      }
      *response->add_entries()->mutable_snapshot() = std::move(snapshot);
    }
  });
}

grpc::Status ControllerService::ControllerGetCapabilities(
    grpc::ServerContext* /*context*/,
    const ::csi::v1::ControllerGetCapabilitiesRequest* /*request*/,
    ::csi::v1::ControllerGetCapabilitiesResponse* response) {
  for (const auto type : {
           ControllerServiceCapability::RPC::CREATE_DELETE_VOLUME,
           ControllerServiceCapability::RPC::PUBLISH_UNPUBLISH_VOLUME,
           ControllerServiceCapability::RPC::LIST_VOLUMES,
           ControllerServiceCapability::RPC::CREATE_DELETE_SNAPSHOT,
           ControllerServiceCapability::RPC::LIST_SNAPSHOTS,
           ControllerServiceCapability::RPC::CLONE_VOLUME,
           ControllerServiceCapability::RPC::PUBLISH_READONLY,
           ControllerServiceCapability::RPC::EXPAND_VOLUME,
           ControllerServiceCapability::RPC::VOLUME_CONDITION,
           ControllerServiceCapability::RPC::GET_VOLUME,
           ControllerServiceCapability::RPC::SINGLE_NODE_MULTI_WRITER,
       }) {
    response->add_capabilities()->mutable_rpc()->set_type(type);
  }
  return grpc::Status::OK;
}

}  // namespace berth::csi
