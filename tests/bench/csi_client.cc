// A CSI client for tests/bench/csi.sh: one gRPC connection to berth-csi, kept open as kubelet
// keeps its own, driven line by line on stdin so a shell can time each call:
//   create VOLUME BYTES | stage VOLUME STAGING | publish VOLUME STAGING TARGET |
//   unpublish VOLUME TARGET | unstage VOLUME STAGING | delete VOLUME
// Each line gets one reply line: "ok" or "error CODE MESSAGE". Filesystem volumes, ext4,
// SINGLE_NODE_WRITER.
//   berth_bench_csi_client unix:///path/csi.sock
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <sstream>
#include <string>

#include "csi.grpc.pb.h"

namespace {

csi::v1::VolumeCapability Writer() {
  csi::v1::VolumeCapability capability;
  capability.mutable_mount()->set_fs_type("ext4");
  capability.mutable_access_mode()->set_mode(
      csi::v1::VolumeCapability::AccessMode::SINGLE_NODE_WRITER);
  return capability;
}

grpc::Status Call(csi::v1::Controller::Stub& controller, csi::v1::Node::Stub& node,
                  const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  std::string volume;
  std::string first;
  std::string second;
  in >> verb >> volume >> first >> second;
  grpc::ClientContext context;
  if (verb == "create") {
    csi::v1::CreateVolumeRequest request;
    request.set_name(volume);
    request.mutable_capacity_range()->set_required_bytes(std::stoll(first));
    *request.add_volume_capabilities() = Writer();
    csi::v1::CreateVolumeResponse reply;
    return controller.CreateVolume(&context, request, &reply);
  }
  if (verb == "delete") {
    csi::v1::DeleteVolumeRequest request;
    request.set_volume_id(volume);
    csi::v1::DeleteVolumeResponse reply;
    return controller.DeleteVolume(&context, request, &reply);
  }
  if (verb == "stage") {
    csi::v1::NodeStageVolumeRequest request;
    request.set_volume_id(volume);
    request.set_staging_target_path(first);
    *request.mutable_volume_capability() = Writer();
    csi::v1::NodeStageVolumeResponse reply;
    return node.NodeStageVolume(&context, request, &reply);
  }
  if (verb == "publish") {
    csi::v1::NodePublishVolumeRequest request;
    request.set_volume_id(volume);
    request.set_staging_target_path(first);
    request.set_target_path(second);
    *request.mutable_volume_capability() = Writer();
    csi::v1::NodePublishVolumeResponse reply;
    return node.NodePublishVolume(&context, request, &reply);
  }
  if (verb == "unpublish") {
    csi::v1::NodeUnpublishVolumeRequest request;
    request.set_volume_id(volume);
    request.set_target_path(first);
    csi::v1::NodeUnpublishVolumeResponse reply;
    return node.NodeUnpublishVolume(&context, request, &reply);
  }
  if (verb == "unstage") {
    csi::v1::NodeUnstageVolumeRequest request;
    request.set_volume_id(volume);
    request.set_staging_target_path(first);
    csi::v1::NodeUnstageVolumeResponse reply;
    return node.NodeUnstageVolume(&context, request, &reply);
  }
  return {grpc::StatusCode::INVALID_ARGUMENT, "unknown verb '" + verb + "'"};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: berth_bench_csi_client unix:///path/csi.sock\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  auto controller = csi::v1::Controller::NewStub(channel);
  auto node = csi::v1::Node::NewStub(channel);
  std::string line;
  while (std::getline(std::cin, line)) {
    const grpc::Status status = Call(*controller, *node, line);
    if (status.ok()) {
      std::cout << "ok" << std::endl;
    } else {
      std::cout << "error " << status.error_code() << " " << status.error_message() << std::endl;
    }
  }
  return 0;
}
