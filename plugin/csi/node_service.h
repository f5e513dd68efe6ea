// CSI's Node service: this host's side of a volume. Stage locks, maps, formats only a new
// volume and mounts it at the staging path; publish bind-mounts it into a pod or task. All of
// it runs through the engine, whose state files let a restarted berth-csi adopt what a killed
// one left mounted: the mappers and mounts outlive this process.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "csi.grpc.pb.h"
#include "engine/engine.h"
#include "plugin/csi/operation_guard.h"

namespace berth::csi {

struct NodeSettings {
  // Every staging and target path must lie below it (kubelet's root directory; /data in the
  // Swarm managed plugin).
  std::string path_root = "/var/lib/kubelet";
  int64_t max_volumes = 0;  // NodeGetInfo's max_volumes_per_node; 0 is no limit
  // Swarm: the last unpublish of a volume on this node also unstages it (unmount, unmap,
  // unlock), and a publish stages it again first. Docker Swarm (up to 28.5 at least) stages a
  // volume once per dockerd lifetime and never unstages it, so without this a volume stays
  // locked to a node its tasks left, and cannot be removed or used on another node.
  bool release_at_last_unpublish = false;
};

class NodeService final : public ::csi::v1::Node::Service {
 public:
  // `engine` outlives the service.
  NodeService(engine::Engine& engine, NodeSettings settings)
      : engine_(engine), settings_(std::move(settings)) {}

  grpc::Status NodeStageVolume(grpc::ServerContext* context,
                               const ::csi::v1::NodeStageVolumeRequest* request,
                               ::csi::v1::NodeStageVolumeResponse* response) override;
  grpc::Status NodeUnstageVolume(grpc::ServerContext* context,
                                 const ::csi::v1::NodeUnstageVolumeRequest* request,
                                 ::csi::v1::NodeUnstageVolumeResponse* response) override;
  grpc::Status NodePublishVolume(grpc::ServerContext* context,
                                 const ::csi::v1::NodePublishVolumeRequest* request,
                                 ::csi::v1::NodePublishVolumeResponse* response) override;
  grpc::Status NodeUnpublishVolume(grpc::ServerContext* context,
                                   const ::csi::v1::NodeUnpublishVolumeRequest* request,
                                   ::csi::v1::NodeUnpublishVolumeResponse* response) override;
  // Bytes and inodes of the filesystem at volume_path, and whether the volume is sound here:
  // abnormal when its mapper died, its mount is gone or this host lost its lock.
  grpc::Status NodeGetVolumeStats(grpc::ServerContext* context,
                                  const ::csi::v1::NodeGetVolumeStatsRequest* request,
                                  ::csi::v1::NodeGetVolumeStatsResponse* response) override;
  grpc::Status NodeExpandVolume(grpc::ServerContext* context,
                                const ::csi::v1::NodeExpandVolumeRequest* request,
                                ::csi::v1::NodeExpandVolumeResponse* response) override;
  grpc::Status NodeGetCapabilities(grpc::ServerContext* context,
                                   const ::csi::v1::NodeGetCapabilitiesRequest* request,
                                   ::csi::v1::NodeGetCapabilitiesResponse* response) override;
  // The node id is the config's host_id, the name berth's locks know this host by.
  grpc::Status NodeGetInfo(grpc::ServerContext* context,
                           const ::csi::v1::NodeGetInfoRequest* request,
                           ::csi::v1::NodeGetInfoResponse* response) override;

 private:
  // CheckNodePath below the path root, and no symbolic link on the way.
  void CheckPath(const std::string& path, const std::string& field) const;
  // Undoes the volume's staging here once nothing publishes it (release_at_last_unpublish).
  void ReleaseIfUnpublished(const std::string& id);

  engine::Engine& engine_;
  NodeSettings settings_;
  OperationsInFlight in_flight_;
};

}  // namespace berth::csi
