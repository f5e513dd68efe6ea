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
  std::vector<std::string> MapCommand(const MapRequest& request) const override;
  std::vector<std::string> UnmapCommand(const std::string& device) const override;
};

}  // namespace berth::rbd
