// rbd-nbd: librbd in a userspace daemon behind the kernel's nbd device.
#pragma once

#include "backends/rbd/mappers/command_mapper.h"

namespace berth::rbd {

class NbdMapper : public CommandMapper {
 public:
  std::string name() const override { return "nbd"; }
  bool Available() const override;

  // --reattach-timeout lets a restarted rbd-nbd take the device back instead of failing I/O;
  // --exclusive keeps the image's lock from moving to another client.
  std::vector<std::string> MapCommand(const MapRequest& request) const override;
  std::vector<std::string> UnmapCommand(const std::string& device) const override;
};

}  // namespace berth::rbd
