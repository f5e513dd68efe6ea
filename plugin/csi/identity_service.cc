#include "plugin/csi/identity_service.h"

#include <spdlog/spdlog.h>

#include "common/version.h"
#include "plugin/csi/csi_spec.h"

namespace berth::csi {

grpc::Status IdentityService::GetPluginInfo(grpc::ServerContext* /*context*/,
                                            const ::csi::v1::GetPluginInfoRequest* /*request*/,
                                            ::csi::v1::GetPluginInfoResponse* response) {
  response->set_name(std::string(kDriverName));
  response->set_vendor_version(std::string(kVersion));
  (*response->mutable_manifest())["csi-spec"] = std::string(kCsiSpecVersion);
  return grpc::Status::OK;
}

grpc::Status IdentityService::GetPluginCapabilities(
    grpc::ServerContext* /*context*/, const ::csi::v1::GetPluginCapabilitiesRequest* /*request*/,
    ::csi::v1::GetPluginCapabilitiesResponse* response) {
  // A capability is announced only for a service this process serves: a node-only berth-csi
  // (--mode node) announces none, so a CO never calls a Controller that answers UNIMPLEMENTED.
  if (controller_) {
    response->add_capabilities()->mutable_service()->set_type(
        ::csi::v1::PluginCapability::Service::CONTROLLER_SERVICE);
    // RBD images grow under a mounted filesystem (NodeExpandVolume then grows it).
    response->add_capabilities()->mutable_volume_expansion()->set_type(
        ::csi::v1::PluginCapability::VolumeExpansion::ONLINE);
  }
  return grpc::Status::OK;
}

grpc::Status IdentityService::Probe(grpc::ServerContext* /*context*/,
                                    const ::csi::v1::ProbeRequest* /*request*/,
                                    ::csi::v1::ProbeResponse* response) {
  std::string problems;
  for (const auto& [name, check] : engine_.CheckBackends()) {
    if (!check.ok) {
      problems +=
          (problems.empty() ? "" : "; ") + std::string("backend ") + name + ": " + check.detail;
    }
  }
  // Ready whenever berth-csi serves, even with a backend down: Swarm's CSI client reads the
  // capabilities only once it has a good Probe, and a failed first Probe leaves it taking the
  // plugin for one without a Controller (it then reports volumes "created" without calling
  // CreateVolume, until dockerd restarts). A restart, which is what a CO does about a failed
  // Probe, would not bring a backend back either. Calls that need the backend fail, naming it.
  if (!problems.empty()) {
    spdlog::warn("probe: ready, but {}", problems);
  }
  response->mutable_ready()->set_value(true);
  return grpc::Status::OK;
}

}  // namespace berth::csi
