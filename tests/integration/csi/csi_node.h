// One simulated Kubernetes node for berth-csi: its own host id and berth state, a temp kubelet
// root, and berth-csi serving the Controller and Node services on a socket of its own. The
// calls carry what kubelet, external-provisioner, -attacher, -snapshotter and -resizer send,
// with kubelet's real paths below the root.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "csi.grpc.pb.h"
#include "tests/integration/csi/csi_process.h"

namespace berth::testing {

using AccessMode = csi::v1::VolumeCapability::AccessMode;

inline constexpr int64_t kCsiMiB = int64_t{1} << 20;

// A filesystem (or raw block) capability with one access mode.
csi::v1::VolumeCapability MountCapability(AccessMode::Mode mode, const std::string& fs_type = "");
csi::v1::VolumeCapability BlockCapability(AccessMode::Mode mode);

// A call's outcome: its status, and its reply when it succeeded.
template <typename Reply>
struct Answer {
  grpc::Status status;
  Reply reply;
  bool ok() const { return status.ok(); }
  grpc::StatusCode code() const { return status.error_code(); }
};

class CsiNode {
 public:
  // A node whose host id starts with `host_id`; `extra` goes to berth-csi's command line, and
  // a `launcher` runs it (CsiProcess).
  explicit CsiNode(const std::string& host_id, std::vector<std::string> extra = {},
                   std::vector<std::string> launcher = {});
  ~CsiNode();
  CsiNode(const CsiNode&) = delete;
  CsiNode& operator=(const CsiNode&) = delete;

  // berth-csi killed with SIGKILL, then started again (with `environment`, e.g. BERTH_FAULT).
  void Restart(const std::vector<std::string>& environment = {});
  CsiProcess& process() { return *process_; }

  // kubelet's paths: the global mount of a PV and a pod's directory for it.
  std::string StagingPath(const std::string& pv) const;
  std::string PublishPath(const std::string& pod_uid, const std::string& pv) const;

  Answer<csi::v1::CreateVolumeResponse> CreateVolume(const csi::v1::CreateVolumeRequest& request);
  Answer<csi::v1::CreateVolumeResponse> CreateVolume(
      const std::string& name, int64_t bytes, const csi::v1::VolumeCapability& capability,
      const std::map<std::string, std::string>& parameters = {});
  Answer<csi::v1::DeleteVolumeResponse> DeleteVolume(const std::string& id);
  Answer<csi::v1::ControllerPublishVolumeResponse> ControllerPublish(
      const std::string& id, const std::string& node_id,
      const csi::v1::VolumeCapability& capability);
  Answer<csi::v1::ControllerUnpublishVolumeResponse> ControllerUnpublish(
      const std::string& id, const std::string& node_id);
  Answer<csi::v1::ControllerGetVolumeResponse> ControllerGetVolume(const std::string& id);
  Answer<csi::v1::ControllerExpandVolumeResponse> ControllerExpand(const std::string& id,
                                                                   int64_t bytes);
  Answer<csi::v1::CreateSnapshotResponse> CreateSnapshot(const std::string& volume,
                                                         const std::string& name);
  Answer<csi::v1::DeleteSnapshotResponse> DeleteSnapshot(const std::string& id);
  Answer<csi::v1::ListSnapshotsResponse> ListSnapshots(const csi::v1::ListSnapshotsRequest& r);
  Answer<csi::v1::ListVolumesResponse> ListVolumes(int32_t max_entries, const std::string& token);

  Answer<csi::v1::NodeStageVolumeResponse> Stage(const std::string& id,
                                                 const csi::v1::VolumeCapability& capability);
  Answer<csi::v1::NodeStageVolumeResponse> Stage(const csi::v1::NodeStageVolumeRequest& request);
  Answer<csi::v1::NodeUnstageVolumeResponse> Unstage(const std::string& id);
  Answer<csi::v1::NodePublishVolumeResponse> Publish(const std::string& id,
                                                     const std::string& pod_uid,
                                                     const csi::v1::VolumeCapability& capability,
                                                     bool read_only = false);
  Answer<csi::v1::NodePublishVolumeResponse> Publish(
      const csi::v1::NodePublishVolumeRequest& request);
  Answer<csi::v1::NodeUnpublishVolumeResponse> Unpublish(const std::string& id,
                                                         const std::string& pod_uid);
  Answer<csi::v1::NodeGetVolumeStatsResponse> Stats(const std::string& id, const std::string& path);
  Answer<csi::v1::NodeExpandVolumeResponse> NodeExpand(const std::string& id,
                                                       const std::string& path, int64_t bytes);
  Answer<csi::v1::NodeGetInfoResponse> NodeInfo();

  const std::string& host_id() const { return host_id_; }
  const std::string& base() const { return base_; }
  const std::string& kubelet_root() const { return kubelet_root_; }
  const std::string& log_path() const { return log_; }
  // How many times `text` occurs in berth-csi's log.
  int LogCount(const std::string& text) const;
  const std::string& config_path() const { return config_; }

 private:
  std::string base_;
  std::string host_id_;
  std::string config_;
  std::string kubelet_root_;
  std::string log_;
  std::vector<std::string> extra_;
  std::vector<std::string> launcher_;
  mutable std::map<std::string, std::string> staging_paths_;  // path -> volume, for cleanup
  std::unique_ptr<CsiProcess> process_;
};

}  // namespace berth::testing
