// The kernel RBD client, driven by `rbd device map -t krbd`.
#pragma once

#include "backends/rbd/mappers/command_mapper.h"

namespace berth::rbd {

class KrbdMapper : public CommandMapper {
 public:
  // `sysfs` is where /sys is (tests point it at a fake tree).
  explicit KrbdMapper(std::string sysfs = "/sys") : sysfs_(std::move(sysfs)) {}
  std::string name() const override { return "krbd"; }
  bool Available() const override;

  // noudev: the map does not wait on udev (slow under load, absent in containers).
  // exclusive: the kernel never hands the image's lock to another client.
  std::vector<std::string> MapCommand(const MapRequest& request) const override;
  std::vector<std::string> UnmapCommand(const std::string& device) const override;
  // /sys/bus/rbd/devices/<N>/{pool,name} of /dev/rbd<N>.
  bool ServesImage(const MappedDevice& mapped) const override;
  std::vector<std::string> Devices() const override;

 private:
  std::string sysfs_;
};

}  // namespace berth::rbd
