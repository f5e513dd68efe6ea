#include "plugin/csi/node_service.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "engine/volume_spec.h"
#include "fsutil/mountinfo.h"
#include "plugin/csi/call_engine.h"
#include "plugin/csi/grpc_status.h"
#include "plugin/csi/ids.h"
#include "plugin/csi/node_paths.h"
#include "plugin/csi/volume_capability.h"

namespace berth::csi {

namespace {

using ::csi::v1::NodeServiceCapability;

const ::csi::v1::VolumeCapability& RequireCapability(
    bool present, const ::csi::v1::VolumeCapability& capability) {
  if (!present) {
    throw InvalidArgument("volume_capability is missing");
  }
  return capability;
}

// The volume, its backend type and what the capability asks of it, which must match its mode.
struct NodeVolume {
  engine::VolumeInfo info;
  std::string type;
  AccessRequest access;
};

NodeVolume Resolve(engine::Engine& engine, const std::string& id,
                   const ::csi::v1::VolumeCapability& capability) {
  NodeVolume volume{engine.Get(id), "", {}};
  volume.type = engine.config().backends.at(volume.info.record.spec.backend).type;
  volume.access = CheckVolumeCapability(capability, volume.info.record.spec, volume.type);
  return volume;
}

// Stages an RBD volume at `path`: locked (unless read-only), mapped, and for a filesystem
// volume formatted only if new and mounted there. Idempotent.
void Stage(engine::Engine& engine, const std::string& id, const NodeVolume& volume,
           const std::string& path, bool read_only) {
  if (volume.access.block) {
    // Mapped and locked, never probed or formatted; the staging path is its name for unstage.
    engine.StageAttach(id, read_only, path);
    return;
  }
  engine.StageMount(id, path, read_only);
}

bool ReadOnlyContext(const google::protobuf::Map<std::string, std::string>& publish_context) {
  const auto readonly = publish_context.find("readonly");
  return readonly != publish_context.end() && readonly->second == "true";
}

}  // namespace

void NodeService::CheckPath(const std::string& path, const std::string& field) const {
  CheckNodePath(path, settings_.path_root, field);
  RefuseSymlinks(path, settings_.path_root, field);
}

namespace {

void AddUsage(::csi::v1::NodeGetVolumeStatsResponse* response, ::csi::v1::VolumeUsage::Unit unit,
              uint64_t total, uint64_t available, uint64_t used) {
  auto* usage = response->add_usage();
  usage->set_unit(unit);
  usage->set_total(static_cast<int64_t>(total));
  usage->set_available(static_cast<int64_t>(available));
  usage->set_used(static_cast<int64_t>(used));
}

}  // namespace

grpc::Status NodeService::NodeStageVolume(grpc::ServerContext* /*context*/,
                                          const ::csi::v1::NodeStageVolumeRequest* request,
                                          ::csi::v1::NodeStageVolumeResponse* /*response*/) {
  return Serve("NodeStageVolume " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    CheckPath(request->staging_target_path(), "staging_target_path");
    const auto& capability =
        RequireCapability(request->has_volume_capability(), request->volume_capability());
    auto guard = in_flight_.Begin(request->volume_id());
    CallEngine engine(engine_, request->secrets());
    const NodeVolume volume = Resolve(*engine, request->volume_id(), capability);
    if (volume.type != "rbd") {
      // A shared directory has nothing to attach: it is mounted when it is published.
      spdlog::info("NodeStageVolume {}: a {} volume, mounted at publish", request->volume_id(),
                   volume.type);
      return;
    }
    Stage(*engine, request->volume_id(), volume, request->staging_target_path(),
          volume.access.read_only || ReadOnlyContext(request->publish_context()));
  });
}

grpc::Status NodeService::NodeUnstageVolume(grpc::ServerContext* /*context*/,
                                            const ::csi::v1::NodeUnstageVolumeRequest* request,
                                            ::csi::v1::NodeUnstageVolumeResponse* /*response*/) {
  return Serve("NodeUnstageVolume " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    CheckPath(request->staging_target_path(), "staging_target_path");
    auto guard = in_flight_.Begin(request->volume_id());
    const std::string& path = request->staging_target_path();
    const auto local = engine_.LocalState(request->volume_id());
    // Only this volume's staging is undone; a path mounted by anything else (another volume,
    // another driver) is refused and left alone.
    engine_.Unstage(path, request->volume_id());  // a filesystem volume staged there
    if (local && local->alias == path) {
      engine_.ReleaseAlias(path);  // a block volume staged under that name
    }
  });
}

grpc::Status NodeService::NodePublishVolume(grpc::ServerContext* /*context*/,
                                            const ::csi::v1::NodePublishVolumeRequest* request,
                                            ::csi::v1::NodePublishVolumeResponse* /*response*/) {
  return Serve("NodePublishVolume " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    CheckPath(request->target_path(), "target_path");
    if (!request->staging_target_path().empty()) {
      CheckPath(request->staging_target_path(), "staging_target_path");
    }
    const auto& capability =
        RequireCapability(request->has_volume_capability(), request->volume_capability());
    auto guard = in_flight_.Begin(request->volume_id());
    CallEngine engine(engine_, request->secrets());
    const NodeVolume volume = Resolve(*engine, request->volume_id(), capability);
    if (volume.access.single_writer && volume.info.local) {
      for (const auto& [ref, count] : volume.info.local->refs) {
        if (ref != request->target_path()) {
          throw Error(ErrorCode::kBusy, "volume " + request->volume_id() +
                                            " is SINGLE_NODE_SINGLE_WRITER and already published "
                                            "at " +
                                            ref);
        }
      }
    }
    if (settings_.release_at_last_unpublish && volume.type == "rbd" &&
        !request->staging_target_path().empty()) {
      // Staged again if the last unpublish released it; a no-op if it is still staged.
      Stage(*engine, request->volume_id(), volume, request->staging_target_path(),
            volume.access.read_only || ReadOnlyContext(request->publish_context()));
    }
    const bool read_only = request->readonly() || volume.access.read_only;
    if (volume.access.block) {
      engine->PublishBlock(request->volume_id(), request->target_path(), read_only);
    } else {
      engine->Publish(request->volume_id(), request->target_path(), read_only);
    }
  });
}

grpc::Status NodeService::NodeUnpublishVolume(
    grpc::ServerContext* /*context*/, const ::csi::v1::NodeUnpublishVolumeRequest* request,
    ::csi::v1::NodeUnpublishVolumeResponse* /*response*/) {
  return Serve("NodeUnpublishVolume " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    CheckPath(request->target_path(), "target_path");
    auto guard = in_flight_.Begin(request->volume_id());
    const auto local = engine_.LocalState(request->volume_id());
    if (fsutil::IsMountPoint(request->target_path()) &&
        !(local && local->refs.contains(request->target_path()))) {
      throw Error(ErrorCode::kConflict, request->target_path() + " is mounted, but not as volume " +
                                            request->volume_id() + "; it is left alone");
    }
    engine_.Unpublish(request->target_path());
    // The target was made by the publish: removed if it is still an empty directory (a mount)
    // or an empty file (a block device's), as the spec asks. Anything else is left.
    std::error_code error;
    const auto target = std::filesystem::symlink_status(request->target_path(), error);
    const bool empty_file = std::filesystem::is_regular_file(target) &&
                            std::filesystem::file_size(request->target_path(), error) == 0;
    if (empty_file || (std::filesystem::is_directory(target) &&
                       std::filesystem::is_empty(request->target_path(), error))) {
      std::filesystem::remove(request->target_path(), error);
    }
    if (error && error != std::errc::no_such_file_or_directory) {
      spdlog::warn("NodeUnpublishVolume {}: cannot remove {}: {}", request->volume_id(),
                   request->target_path(), error.message());
    }
    if (settings_.release_at_last_unpublish) {
      ReleaseIfUnpublished(request->volume_id());
    }
  });
}

void NodeService::ReleaseIfUnpublished(const std::string& id) {
  const auto local = engine_.LocalState(id);
  if (!local || !local->staged || !local->refs.empty()) {
    return;
  }
  if (!local->mount_path.empty()) {
    spdlog::info("NodeUnpublishVolume {}: its last publish here is gone; unstaging {}", id,
                 local->mount_path);
    engine_.Unstage(local->mount_path, id);
  }
  if (!local->alias.empty()) {
    spdlog::info("NodeUnpublishVolume {}: its last publish here is gone; detaching", id);
    engine_.ReleaseAlias(local->alias);
  }
}

grpc::Status NodeService::NodeGetVolumeStats(grpc::ServerContext* /*context*/,
                                             const ::csi::v1::NodeGetVolumeStatsRequest* request,
                                             ::csi::v1::NodeGetVolumeStatsResponse* response) {
  return Serve("NodeGetVolumeStats " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    CheckPath(request->volume_path(), "volume_path");
    const engine::VolumeInfo info = engine_.Get(request->volume_id());
    const std::string& path = request->volume_path();
    if (!info.local || (info.local->mount_path != path && !info.local->refs.contains(path))) {
      throw Error(ErrorCode::kNotFound, "volume " + request->volume_id() +
                                            " is not staged or published at " + path +
                                            " on this host");
    }
    auto* condition = response->mutable_volume_condition();
    if (info.record.spec.block) {
      // A device, not a filesystem: its size is all there is to tell.
      AddUsage(response, ::csi::v1::VolumeUsage::BYTES, info.record.spec.size_bytes, 0, 0);
      const auto problem = engine_.LocalProblem(request->volume_id());
      condition->set_abnormal(problem.has_value());
      condition->set_message(problem.value_or("attached on this host"));
      return;
    }
    if (auto problem = engine_.LocalProblem(request->volume_id())) {
      condition->set_abnormal(true);
      condition->set_message(*problem);
    } else {
      condition->set_message("attached and mounted on this host" +
                             std::string(info.local->read_only ? ", read-only" : ""));
    }
    struct statvfs st {};
    if (::statvfs(path.c_str(), &st) != 0) {
      condition->set_abnormal(true);
      condition->set_message(condition->message() + "; statvfs " + path + ": " +
                             std::strerror(errno));
      return;
    }
    const uint64_t block = st.f_frsize;
    AddUsage(response, ::csi::v1::VolumeUsage::BYTES, st.f_blocks * block, st.f_bavail * block,
             (st.f_blocks - st.f_bfree) * block);
    AddUsage(response, ::csi::v1::VolumeUsage::INODES, st.f_files, st.f_favail,
             st.f_files - st.f_ffree);
  });
}

grpc::Status NodeService::NodeExpandVolume(grpc::ServerContext* /*context*/,
                                           const ::csi::v1::NodeExpandVolumeRequest* request,
                                           ::csi::v1::NodeExpandVolumeResponse* response) {
  return Serve("NodeExpandVolume " + request->volume_id(), [&] {
    RequireVolumeId(request->volume_id());
    CheckPath(request->volume_path(), "volume_path");
    auto guard = in_flight_.Begin(request->volume_id());
    CallEngine engine(engine_, request->secrets());
    const engine::VolumeInfo info = engine->Get(request->volume_id());
    if (engine->config().backends.at(info.record.spec.backend).type == "rbd") {
      engine->GrowFilesystem(request->volume_id());
    }
    response->set_capacity_bytes(
        static_cast<int64_t>(engine->Get(request->volume_id()).record.spec.size_bytes));
  });
}

grpc::Status NodeService::NodeGetCapabilities(
    grpc::ServerContext* /*context*/, const ::csi::v1::NodeGetCapabilitiesRequest* /*request*/,
    ::csi::v1::NodeGetCapabilitiesResponse* response) {
  for (const auto type : {
           NodeServiceCapability::RPC::STAGE_UNSTAGE_VOLUME,
           NodeServiceCapability::RPC::GET_VOLUME_STATS,
           NodeServiceCapability::RPC::EXPAND_VOLUME,
           NodeServiceCapability::RPC::VOLUME_CONDITION,
           NodeServiceCapability::RPC::SINGLE_NODE_MULTI_WRITER,
       }) {
    response->add_capabilities()->mutable_rpc()->set_type(type);
  }
  return grpc::Status::OK;
}

grpc::Status NodeService::NodeGetInfo(grpc::ServerContext* /*context*/,
                                      const ::csi::v1::NodeGetInfoRequest* /*request*/,
                                      ::csi::v1::NodeGetInfoResponse* response) {
  response->set_node_id(engine_.config().host_id);
  response->set_max_volumes_per_node(settings_.max_volumes);
  return grpc::Status::OK;
}

}  // namespace berth::csi
