// rbd-nbd: librbd in a userspace daemon behind the kernel's nbd device.
#pragma once

#include "backends/rbd/mappers/command_mapper.h"

namespace berth::rbd {

class NbdMapper : public CommandMapper {
 public:
  // `sysfs` and `proc` are where /sys and /proc are (tests point them at fake trees).
  explicit NbdMapper(std::string sysfs = "/sys", std::string proc = "/proc")
      : sysfs_(std::move(sysfs)), proc_(std::move(proc)) {}
  std::string name() const override { return "nbd"; }
  bool Available() const override;

  // --reattach-timeout lets a restarted rbd-nbd take the device back instead of failing I/O;
  // --exclusive keeps the image's lock from moving to another client.
  std::vector<std::string> MapCommand(const MapRequest& request) const override;
  std::vector<std::string> UnmapCommand(const std::string& device) const override;
  // The rbd-nbd serving /dev/nbd<N> (/sys/block/nbd<N>/pid) was started for pool/image.
  bool ServesImage(const MappedDevice& mapped) const override;
  std::vector<std::string> Devices() const override;

 private:
  std::string sysfs_;
  std::string proc_;
};

}  // namespace berth::rbd
