#include "tests/integration/csi/csi_node.h"

#include <algorithm>
#include <filesystem>

#include "common/files.h"
#include "fsutil/mountinfo.h"
#include "tests/integration/engine/lab.h"
#include "tests/support/berthd_process.h"

namespace berth::testing {

namespace {

constexpr auto kCallTimeout = std::chrono::seconds(180);

template <typename Reply, typename Call>
Answer<Reply> Ask(Call call) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  Answer<Reply> answer;
  answer.status = call(&context, &answer.reply);
  return answer;
}

// kubelet names a PV's global mount directory after the sha256 of its volume handle.
std::string Sha256OfText(const std::string& base, const std::string& text) {
  const std::string file = base + "/.sha-input";
  WriteFileAtomically(file, text, 0600);
  std::string sum = Sha256(file);
  std::filesystem::remove(file);
  return sum;
}

}  // namespace

csi::v1::VolumeCapability MountCapability(AccessMode::Mode mode, const std::string& fs_type) {
  csi::v1::VolumeCapability capability;
  capability.mutable_mount()->set_fs_type(fs_type);
  capability.mutable_access_mode()->set_mode(mode);
  return capability;
}

csi::v1::VolumeCapability BlockCapability(AccessMode::Mode mode) {
  csi::v1::VolumeCapability capability;
  capability.mutable_block();
  capability.mutable_access_mode()->set_mode(mode);
  return capability;
}

CsiNode::CsiNode(const std::string& host_id, std::vector<std::string> extra,
                 std::vector<std::string> launcher)
    : base_(LabDir() + "/" + UniqueName("csi-node")),
      extra_(std::move(extra)),
      launcher_(std::move(launcher)) {
  std::filesystem::create_directories(base_);
  config_ = WriteBerthdConfig(base_, host_id);
  host_id_ = host_id + "-" + std::filesystem::path(base_).filename().string();
  kubelet_root_ = base_ + "/kubelet";
  std::filesystem::create_directories(kubelet_root_);
  log_ = base_ + "/berth-csi.log";
  extra_.insert(extra_.end(), {"--path-root", kubelet_root_});
  process_ = std::make_unique<CsiProcess>(config_, base_ + "/csi.sock", log_, extra_,
                                          std::vector<std::string>{}, launcher_);
}

CsiNode::~CsiNode() {
  // What a test left staged or published is taken down as kubelet would: pods first, then the
  // global mounts, so no mapper, loop device or lock outlives the test.
  if (!process_->Running()) {
    process_ = std::make_unique<CsiProcess>(config_, base_ + "/csi.sock", log_, extra_,
                                            std::vector<std::string>{}, launcher_);
  }
  std::vector<std::string> mounts;
  for (const auto& entry : fsutil::ReadMountInfo()) {
    if (entry.mount_point.starts_with(kubelet_root_ + "/")) {
      mounts.push_back(entry.mount_point);
    }
  }
  std::sort(mounts.begin(), mounts.end(), [](const std::string& a, const std::string& b) {
    return (a.find("/pods/") != std::string::npos) > (b.find("/pods/") != std::string::npos);
  });
  for (const auto& path : mounts) {
    grpc::ClientContext context;
    if (path.find("/pods/") != std::string::npos) {
      // pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount
      csi::v1::NodeUnpublishVolumeRequest request;
      request.set_volume_id(std::filesystem::path(path).parent_path().filename());
      request.set_target_path(path);
      csi::v1::NodeUnpublishVolumeResponse reply;
      process_->Node()->NodeUnpublishVolume(&context, request, &reply);
    } else {
      csi::v1::NodeUnstageVolumeRequest request;
      const auto pv = staging_paths_.find(path);
      request.set_volume_id(pv == staging_paths_.end() ? "unknown" : pv->second);
      request.set_staging_target_path(path);
      csi::v1::NodeUnstageVolumeResponse reply;
      process_->Node()->NodeUnstageVolume(&context, request, &reply);
    }
  }
  process_->Stop();
}

void CsiNode::Restart(const std::vector<std::string>& environment) {
  process_->Kill();
  process_ = std::make_unique<CsiProcess>(config_, base_ + "/csi.sock", log_, extra_, environment,
                                          launcher_);
}

std::string CsiNode::StagingPath(const std::string& pv) const {
  std::string path = kubelet_root_ + "/plugins/kubernetes.io/csi/csi.berth.dev/" +
                     Sha256OfText(base_, pv) + "/globalmount";
  staging_paths_[path] = pv;
  return path;
}

std::string CsiNode::PublishPath(const std::string& pod_uid, const std::string& pv) const {
  return kubelet_root_ + "/pods/" + pod_uid + "/volumes/kubernetes.io~csi/" + pv + "/mount";
}

Answer<csi::v1::CreateVolumeResponse> CsiNode::CreateVolume(
    const csi::v1::CreateVolumeRequest& request) {
  return Ask<csi::v1::CreateVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Controller()->CreateVolume(context, request, reply);
  });
}

Answer<csi::v1::CreateVolumeResponse> CsiNode::CreateVolume(
    const std::string& name, int64_t bytes, const csi::v1::VolumeCapability& capability,
    const std::map<std::string, std::string>& parameters) {
  csi::v1::CreateVolumeRequest request;
  request.set_name(name);
  request.mutable_capacity_range()->set_required_bytes(bytes);
  *request.add_volume_capabilities() = capability;
  for (const auto& [key, value] : parameters) {
    (*request.mutable_parameters())[key] = value;
  }
  return CreateVolume(request);
}

Answer<csi::v1::DeleteVolumeResponse> CsiNode::DeleteVolume(const std::string& id) {
  csi::v1::DeleteVolumeRequest request;
  request.set_volume_id(id);
  return Ask<csi::v1::DeleteVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Controller()->DeleteVolume(context, request, reply);
  });
}

Answer<csi::v1::ControllerPublishVolumeResponse> CsiNode::ControllerPublish(
    const std::string& id, const std::string& node_id,
    const csi::v1::VolumeCapability& capability) {
  csi::v1::ControllerPublishVolumeRequest request;
  request.set_volume_id(id);
  request.set_node_id(node_id);
  *request.mutable_volume_capability() = capability;
  return Ask<csi::v1::ControllerPublishVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Controller()->ControllerPublishVolume(context, request, reply);
  });
}

Answer<csi::v1::ControllerUnpublishVolumeResponse> CsiNode::ControllerUnpublish(
    const std::string& id, const std::string& node_id) {
  csi::v1::ControllerUnpublishVolumeRequest request;
  request.set_volume_id(id);
  request.set_node_id(node_id);
  return Ask<csi::v1::ControllerUnpublishVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Controller()->ControllerUnpublishVolume(context, request, reply);
  });
}

Answer<csi::v1::ControllerGetVolumeResponse> CsiNode::ControllerGetVolume(const std::string& id) {
  csi::v1::ControllerGetVolumeRequest request;
  request.set_volume_id(id);
  return Ask<csi::v1::ControllerGetVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Controller()->ControllerGetVolume(context, request, reply);
  });
}

Answer<csi::v1::ControllerExpandVolumeResponse> CsiNode::ControllerExpand(const std::string& id,
                                                                          int64_t bytes) {
  csi::v1::ControllerExpandVolumeRequest request;
  request.set_volume_id(id);
  request.mutable_capacity_range()->set_required_bytes(bytes);
  return Ask<csi::v1::ControllerExpandVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Controller()->ControllerExpandVolume(context, request, reply);
  });
}

Answer<csi::v1::CreateSnapshotResponse> CsiNode::CreateSnapshot(const std::string& volume,
                                                                const std::string& name) {
  csi::v1::CreateSnapshotRequest request;
  request.set_source_volume_id(volume);
  request.set_name(name);
  return Ask<csi::v1::CreateSnapshotResponse>([&](auto* context, auto* reply) {
    return process_->Controller()->CreateSnapshot(context, request, reply);
  });
}

Answer<csi::v1::DeleteSnapshotResponse> CsiNode::DeleteSnapshot(const std::string& id) {
  csi::v1::DeleteSnapshotRequest request;
  request.set_snapshot_id(id);
  return Ask<csi::v1::DeleteSnapshotResponse>([&](auto* context, auto* reply) {
    return process_->Controller()->DeleteSnapshot(context, request, reply);
  });
}

Answer<csi::v1::ListSnapshotsResponse> CsiNode::ListSnapshots(
    const csi::v1::ListSnapshotsRequest& request) {
  return Ask<csi::v1::ListSnapshotsResponse>([&](auto* context, auto* reply) {
    return process_->Controller()->ListSnapshots(context, request, reply);
  });
}

Answer<csi::v1::ListVolumesResponse> CsiNode::ListVolumes(int32_t max_entries,
                                                          const std::string& token) {
  csi::v1::ListVolumesRequest request;
  request.set_max_entries(max_entries);
  request.set_starting_token(token);
  return Ask<csi::v1::ListVolumesResponse>([&](auto* context, auto* reply) {
    return process_->Controller()->ListVolumes(context, request, reply);
  });
}

Answer<csi::v1::NodeStageVolumeResponse> CsiNode::Stage(
    const std::string& id, const csi::v1::VolumeCapability& capability) {
  csi::v1::NodeStageVolumeRequest request;
  request.set_volume_id(id);
  request.set_staging_target_path(StagingPath(id));
  *request.mutable_volume_capability() = capability;
  return Stage(request);
}

Answer<csi::v1::NodeStageVolumeResponse> CsiNode::Stage(
    const csi::v1::NodeStageVolumeRequest& request) {
  return Ask<csi::v1::NodeStageVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Node()->NodeStageVolume(context, request, reply);
  });
}

Answer<csi::v1::NodeUnstageVolumeResponse> CsiNode::Unstage(const std::string& id) {
  csi::v1::NodeUnstageVolumeRequest request;
  request.set_volume_id(id);
  request.set_staging_target_path(StagingPath(id));
  return Ask<csi::v1::NodeUnstageVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Node()->NodeUnstageVolume(context, request, reply);
  });
}

Answer<csi::v1::NodePublishVolumeResponse> CsiNode::Publish(
    const std::string& id, const std::string& pod_uid, const csi::v1::VolumeCapability& capability,
    bool read_only) {
  csi::v1::NodePublishVolumeRequest request;
  request.set_volume_id(id);
  request.set_staging_target_path(StagingPath(id));
  request.set_target_path(PublishPath(pod_uid, id));
  *request.mutable_volume_capability() = capability;
  request.set_readonly(read_only);
  // kubelet makes the pod's volume directory's parent; the driver makes the target.
  std::filesystem::create_directories(std::filesystem::path(request.target_path()).parent_path());
  return Publish(request);
}

Answer<csi::v1::NodePublishVolumeResponse> CsiNode::Publish(
    const csi::v1::NodePublishVolumeRequest& request) {
  return Ask<csi::v1::NodePublishVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Node()->NodePublishVolume(context, request, reply);
  });
}

Answer<csi::v1::NodeUnpublishVolumeResponse> CsiNode::Unpublish(const std::string& id,
                                                                const std::string& pod_uid) {
  csi::v1::NodeUnpublishVolumeRequest request;
  request.set_volume_id(id);
  request.set_target_path(PublishPath(pod_uid, id));
  return Ask<csi::v1::NodeUnpublishVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Node()->NodeUnpublishVolume(context, request, reply);
  });
}

Answer<csi::v1::NodeGetVolumeStatsResponse> CsiNode::Stats(const std::string& id,
                                                           const std::string& path) {
  csi::v1::NodeGetVolumeStatsRequest request;
  request.set_volume_id(id);
  request.set_volume_path(path);
  return Ask<csi::v1::NodeGetVolumeStatsResponse>([&](auto* context, auto* reply) {
    return process_->Node()->NodeGetVolumeStats(context, request, reply);
  });
}

Answer<csi::v1::NodeExpandVolumeResponse> CsiNode::NodeExpand(const std::string& id,
                                                              const std::string& path,
                                                              int64_t bytes) {
  csi::v1::NodeExpandVolumeRequest request;
  request.set_volume_id(id);
  request.set_volume_path(path);
  request.mutable_capacity_range()->set_required_bytes(bytes);
  return Ask<csi::v1::NodeExpandVolumeResponse>([&](auto* context, auto* reply) {
    return process_->Node()->NodeExpandVolume(context, request, reply);
  });
}

Answer<csi::v1::NodeGetInfoResponse> CsiNode::NodeInfo() {
  return Ask<csi::v1::NodeGetInfoResponse>([&](auto* context, auto* reply) {
    return process_->Node()->NodeGetInfo(context, csi::v1::NodeGetInfoRequest{}, reply);
  });
}

int CsiNode::LogCount(const std::string& text) const {
  const std::string log = ReadFileIfExists(log_).value_or("");
  int count = 0;
  for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace berth::testing
