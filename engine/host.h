// What the engine does to this host's mounts and filesystems, as one small interface: the
// kernel here (MakeSystemHost), a fake in the engine's unit tests. Kubernetes' mount-utils
// Interface is the model.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fsutil/format_and_mount.h"
#include "fsutil/grow.h"
#include "fsutil/mountinfo.h"

namespace berth::engine {

class Host {
 public:
  virtual ~Host() = default;
  virtual bool IsMountPoint(const std::string& path) = 0;
  virtual std::vector<fsutil::MountEntry> MountInfo() = 0;
  // Unmounts `path` if it is a mount point; a busy one is kBusy and stays mounted.
  virtual void Unmount(const std::string& path) = 0;
  // Writes the filesystem at `mount_point` through to its storage, as an unmount would.
  virtual void SyncFilesystem(const std::string& mount_point) = 0;
  virtual void BindMount(const std::string& source, const std::string& target, bool read_only) = 0;
  // fsutil::FormatAndMount: the one safe decision whether to format, then the mount.
  virtual fsutil::FormatOutcome FormatAndMount(const fsutil::FormatAndMountRequest& request,
                                               const std::function<void()>& record_formatted) = 0;
  virtual fsutil::GrowOutcome GrowFilesystem(const std::string& fstype, const std::string& device,
                                             const std::string& mount_path) = 0;
  virtual void GrowUnmountedFilesystem(const std::string& fstype, const std::string& device) = 0;
  // Blocks writes to the filesystem at `mount_point` until Thaw.
  virtual void Freeze(const std::string& mount_point) = 0;
  virtual void Thaw(const std::string& mount_point) = 0;
};

// The real host: fsutil's calls on this machine's kernel.
std::unique_ptr<Host> MakeSystemHost();

}  // namespace berth::engine
