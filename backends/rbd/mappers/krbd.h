// The kernel RBD client, driven by `rbd device map -t krbd`.
#pragma once

#include "backends/rbd/mappers/command_mapper.h"

namespace berth::rbd {

class KrbdMapper : public CommandMapper {
 public:
  std::string name() const override { return "krbd"; }
  bool Available() const override;

  // noudev: the map does not wait on udev (slow under load, absent in containers).
  // exclusive: the kernel never hands the image's lock to another client.
  static std::vector<std::string> MapCommand(const MapRequest& request);
  static std::vector<std::string> UnmapCommand(const std::string& device);

 protected:
  std::vector<std::string> BuildMapCommand(const MapRequest& request) const override {
    return MapCommand(request);
  }
  std::vector<std::string> BuildUnmapCommand(const std::string& device) const override {
    return UnmapCommand(device);
  }
};

}  // namespace berth::rbd
