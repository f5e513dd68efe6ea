// The engine's Host on this machine: each call is fsutil's.
#include "engine/host.h"

#include "fsutil/freeze.h"
#include "fsutil/mount.h"

namespace berth::engine {

namespace {

class SystemHost final : public Host {
 public:
  bool IsMountPoint(const std::string& path) override { return fsutil::IsMountPoint(path); }
  std::vector<fsutil::MountEntry> MountInfo() override { return fsutil::ReadMountInfo(); }
  void Unmount(const std::string& path) override { fsutil::Unmount(path); }
  void SyncFilesystem(const std::string& mount_point) override {
    fsutil::SyncFilesystem(mount_point);
  }
  void BindMount(const std::string& source, const std::string& target, bool read_only) override {
    fsutil::BindMount(source, target, read_only);
  }
  fsutil::FormatOutcome FormatAndMount(const fsutil::FormatAndMountRequest& request,
                                       const std::function<void()>& record_formatted) override {
    return fsutil::FormatAndMount(request, record_formatted);
  }
  fsutil::GrowOutcome GrowFilesystem(const std::string& fstype, const std::string& device,
                                     const std::string& mount_path) override {
    return fsutil::GrowFilesystem(fstype, device, mount_path);
  }
  void GrowUnmountedFilesystem(const std::string& fstype, const std::string& device) override {
    fsutil::GrowUnmountedFilesystem(fstype, device);
  }
  void Freeze(const std::string& mount_point) override { fsutil::Freeze(mount_point); }
  void Thaw(const std::string& mount_point) override { fsutil::Thaw(mount_point); }
};

}  // namespace

std::unique_ptr<Host> MakeSystemHost() { return std::make_unique<SystemHost>(); }

}  // namespace berth::engine
