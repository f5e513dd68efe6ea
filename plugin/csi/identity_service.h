// CSI's Identity service: who berth-csi is, which services it offers, and whether it is ready.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "csi.grpc.pb.h"
#include "engine/engine.h"

namespace berth::csi {

class IdentityService final : public ::csi::v1::Identity::Service {
 public:
  // `engine` answers Probe (its backends' registries); it outlives the service.
  // `controller`: this process serves the Controller service too, and says so.
  IdentityService(engine::Engine& engine, bool controller)
      : engine_(engine), controller_(controller) {}

  grpc::Status GetPluginInfo(grpc::ServerContext* context,
                             const ::csi::v1::GetPluginInfoRequest* request,
                             ::csi::v1::GetPluginInfoResponse* response) override;
  grpc::Status GetPluginCapabilities(grpc::ServerContext* context,
                                     const ::csi::v1::GetPluginCapabilitiesRequest* request,
                                     ::csi::v1::GetPluginCapabilitiesResponse* response) override;
  // Ready when every configured backend's registry answers; FAILED_PRECONDITION naming each
  // one that does not, and why.
  grpc::Status Probe(grpc::ServerContext* context, const ::csi::v1::ProbeRequest* request,
                     ::csi::v1::ProbeResponse* response) override;

 private:
  engine::Engine& engine_;
  bool controller_;
};

}  // namespace berth::csi
