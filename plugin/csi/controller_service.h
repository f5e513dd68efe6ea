// CSI's Controller service: volumes and snapshots in the cluster's registry, and the logical
// attach of a volume to a node. A CSI volume id is the berth volume's name; a snapshot id is
// "<volume>@<snapshot>".
#pragma once

#include <grpcpp/grpcpp.h>

#include "csi.grpc.pb.h"
#include "engine/engine.h"
#include "plugin/csi/operation_guard.h"

namespace berth::csi {

class ControllerService final : public ::csi::v1::Controller::Service {
 public:
  // `engine` outlives the service.
  explicit ControllerService(engine::Engine& engine) : engine_(engine) {}

  // Idempotent by name: a repeat with the same parameters answers the volume as it is, one
  // with others is ALREADY_EXISTS naming each difference.
  grpc::Status CreateVolume(grpc::ServerContext* context,
                            const ::csi::v1::CreateVolumeRequest* request,
                            ::csi::v1::CreateVolumeResponse* response) override;
  // Idempotent; FAILED_PRECONDITION naming the host while the volume is attached anywhere.
  grpc::Status DeleteVolume(grpc::ServerContext* context,
                            const ::csi::v1::DeleteVolumeRequest* request,
                            ::csi::v1::DeleteVolumeResponse* response) override;
  // The logical attach: checks the volume, the capability and, for a writer, that no other
  // node holds the volume read-write. The node's stage takes the lock.
  grpc::Status ControllerPublishVolume(
      grpc::ServerContext* context, const ::csi::v1::ControllerPublishVolumeRequest* request,
      ::csi::v1::ControllerPublishVolumeResponse* response) override;
  // Nothing to undo here: the node releases its attachment when it unstages.
  grpc::Status ControllerUnpublishVolume(
      grpc::ServerContext* context, const ::csi::v1::ControllerUnpublishVolumeRequest* request,
      ::csi::v1::ControllerUnpublishVolumeResponse* response) override;
  grpc::Status ValidateVolumeCapabilities(
      grpc::ServerContext* context, const ::csi::v1::ValidateVolumeCapabilitiesRequest* request,
      ::csi::v1::ValidateVolumeCapabilitiesResponse* response) override;
  // By name; the token is the name of the first volume of the next page.
  grpc::Status ListVolumes(grpc::ServerContext* context,
                           const ::csi::v1::ListVolumesRequest* request,
                           ::csi::v1::ListVolumesResponse* response) override;
  grpc::Status ControllerGetVolume(grpc::ServerContext* context,
                                   const ::csi::v1::ControllerGetVolumeRequest* request,
                                   ::csi::v1::ControllerGetVolumeResponse* response) override;
  grpc::Status ControllerExpandVolume(grpc::ServerContext* context,
                                      const ::csi::v1::ControllerExpandVolumeRequest* request,
                                      ::csi::v1::ControllerExpandVolumeResponse* response) override;
  grpc::Status CreateSnapshot(grpc::ServerContext* context,
                              const ::csi::v1::CreateSnapshotRequest* request,
                              ::csi::v1::CreateSnapshotResponse* response) override;
  grpc::Status DeleteSnapshot(grpc::ServerContext* context,
                              const ::csi::v1::DeleteSnapshotRequest* request,
                              ::csi::v1::DeleteSnapshotResponse* response) override;
  // By snapshot id; the token is the id of the first snapshot of the next page.
  grpc::Status ListSnapshots(grpc::ServerContext* context,
                             const ::csi::v1::ListSnapshotsRequest* request,
                             ::csi::v1::ListSnapshotsResponse* response) override;
  grpc::Status ControllerGetCapabilities(
      grpc::ServerContext* context, const ::csi::v1::ControllerGetCapabilitiesRequest* request,
      ::csi::v1::ControllerGetCapabilitiesResponse* response) override;

 private:
  engine::Engine& engine_;
  OperationsInFlight in_flight_;
};

}  // namespace berth::csi
