// rbd-fuse exposes the image as a file; a loop device over that file is the block device.
// Works on any host with /dev/fuse and loop devices, no rbd or nbd kernel module needed.
#pragma once

#include <optional>

#include "backends/rbd/mappers/mapper.h"

namespace berth::rbd {

class FuseMapper : public Mapper {
 public:
  std::string name() const override { return "fuse"; }
  bool Available() const override;
  // Spawns rbd-fuse; it connects and opens the image while the caller locks it. No block device
  // exists until Map, so nothing reads or writes the image's data before the lock.
  void Start(const MapRequest& request) override;
  MappedDevice Map(const MapRequest& request) override;
  void Unmap(const MappedDevice& mapped) override;
  bool Healthy(const MappedDevice& mapped) const override;
  // The loop device over <work_dir>/fuse/<image>, the rbd-fuse mount there and the rbd-fuse
  // process named in <work_dir>/rbd-fuse.pid.
  void UnmapAbandoned(const MapRequest& request) override;
  // rbd-fuse caches the image size from when it opened it; truncating its file to the new
  // size (a no-op resize for librbd) refreshes that cache, then the loop device is resized.
  void Refresh(const MappedDevice& mapped, const std::string& image, uint64_t size) override;

  static std::vector<std::string> FuseCommand(const MapRequest& request,
                                              const std::string& fuse_dir);
  // Whether `pid` is the rbd-fuse serving `fuse_dir`: pids recycle (a reboot keeps the state dir
  // and its pid files), and another volume's rbd-fuse must never be stopped for this one.
  static bool ServesFuseDir(pid_t pid, const std::string& fuse_dir);

 private:
  MappedDevice Spawn(const MapRequest& request);

  std::optional<MappedDevice> started_;  // by Start, for the Map of the same work_dir
};

}  // namespace berth::rbd
