// An in-memory host for the engine's unit tests: a mount table, the devices that hold a
// filesystem, mount points that refuse to unmount, and a log of every call.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/host.h"

namespace berth::engine::testing {

class FakeHost : public Host {
 public:
  std::map<std::string, std::string> mounts;  // mount point -> source (device or bind source)
  std::set<std::string> read_only_mounts;
  std::set<std::string> filesystems;  // devices holding a filesystem
  std::set<std::string> busy;         // mount points whose unmount is refused (EBUSY)
  std::set<std::string> frozen;
  std::vector<std::string> calls;
  int formats = 0;

  bool IsMountPoint(const std::string& path) override { return mounts.contains(path); }

  std::vector<fsutil::MountEntry> MountInfo() override {
    std::vector<fsutil::MountEntry> entries;
    for (const auto& [point, source] : mounts) {
      fsutil::MountEntry entry;
      entry.mount_point = point;
      entry.source = source;
      entry.fstype = "ext4";
      entries.push_back(entry);
    }
    return entries;
  }

  void Unmount(const std::string& path) override {
    calls.push_back("unmount " + path);
    if (busy.contains(path) && mounts.contains(path)) {
      throw Error(ErrorCode::kBusy, path + " is busy");
    }
    mounts.erase(path);
    read_only_mounts.erase(path);
  }

  void SyncFilesystem(const std::string& mount_point) override {
    calls.push_back("sync " + mount_point);
  }

  void BindMount(const std::string& source, const std::string& target, bool read_only) override {
    calls.push_back("bind " + source + " " + target + (read_only ? " ro" : " rw"));
    mounts[target] = source;
    if (read_only) {
      read_only_mounts.insert(target);
    }
  }

  // fsutil::FormatAndMount's contract, reduced to its decisions: a blank device is formatted
  // only when the ledger says it never was and the mount is read-write.
  fsutil::FormatOutcome FormatAndMount(const fsutil::FormatAndMountRequest& request,
                                       const std::function<void()>& record_formatted) override {
    calls.push_back("format-and-mount " + request.device + " " + request.mount_point);
    auto outcome = fsutil::FormatOutcome::kMountedExisting;
    if (!filesystems.contains(request.device)) {
      if (request.recorded_formatted) {
        throw Error(ErrorCode::kConflict, request.device + " is blank but the ledger says " +
                                              request.volume + " was formatted");
      }
      if (request.read_only) {
        throw Error(ErrorCode::kConflict, request.device + " is blank and mounted read-only");
      }
      filesystems.insert(request.device);
      ++formats;
      record_formatted();
      outcome = fsutil::FormatOutcome::kFormattedNew;
    }
    mounts[request.mount_point] = request.device;
    if (request.read_only) {
      read_only_mounts.insert(request.mount_point);
    }
    return outcome;
  }

  fsutil::GrowOutcome GrowFilesystem(const std::string& /*fstype*/, const std::string& device,
                                     const std::string& mount_path) override {
    calls.push_back("grow " + device + " " + mount_path);
    return fsutil::GrowOutcome::kGrown;
  }
  void GrowUnmountedFilesystem(const std::string& /*fstype*/, const std::string& device) override {
    calls.push_back("grow-unmounted " + device);
  }
  void Freeze(const std::string& mount_point) override {
    calls.push_back("freeze " + mount_point);
    frozen.insert(mount_point);
  }
  void Thaw(const std::string& mount_point) override {
    calls.push_back("thaw " + mount_point);
    frozen.erase(mount_point);
  }

  bool Called(const std::string& call) const {
    for (const auto& c : calls) {
      if (c == call) {
        return true;
      }
    }
    return false;
  }
};

}  // namespace berth::engine::testing
