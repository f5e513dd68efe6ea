// Mappers whose whole job is done by a Ceph tool that prints the device it mapped (krbd through
// `rbd device map`, rbd-nbd). Subclasses only say which commands to run.
#pragma once

#include <string>
#include <vector>

#include "backends/rbd/mappers/mapper.h"

namespace berth::rbd {

// --id, -c, --keyring and --keyfile, as every Ceph command-line tool takes them.
void AppendCephArgs(const MapRequest& request, std::vector<std::string>& argv);

class CommandMapper : public Mapper {
 public:
  MappedDevice Map(const MapRequest& request) override;
  // Unmapping a device that is gone or "not mapped" succeeds, as in ceph-csi.
  void Unmap(const MappedDevice& mapped) override;
  bool Healthy(const MappedDevice& mapped) const override;
  void UnmapAbandoned(const MapRequest& request) override;

  // The exact argv Map and Unmap run (unit-tested, since krbd and nbd cannot run everywhere).
  virtual std::vector<std::string> MapCommand(const MapRequest& request) const = 0;
  virtual std::vector<std::string> UnmapCommand(const std::string& device) const = 0;
  // Whether `mapped.device` still maps mapped.pool/mapped.image: device names are recycled,
  // and a stale record must never make berth mount, or unmap, another volume's device. True
  // when the record does not say (older berths).
  virtual bool ServesImage(const MappedDevice& mapped) const = 0;
  // Every device of this kind on the host, mapped or not ("/dev/rbd0", "/dev/nbd3").
  virtual std::vector<std::string> Devices() const = 0;
};

}  // namespace berth::rbd
