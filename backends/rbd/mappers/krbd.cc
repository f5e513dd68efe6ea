#include "backends/rbd/mappers/krbd.h"

#include "common/files.h"

namespace berth::rbd {

std::vector<std::string> KrbdMapper::MapCommand(const MapRequest& request) const {
  std::vector<std::string> argv = {"rbd", "device", "map", "-t", "krbd", "-o"};
  argv.push_back(request.read_only ? "noudev" : "noudev,exclusive");
  if (request.read_only) {
    argv.push_back("--read-only");
  }
  AppendCephArgs(request, argv);
  argv.push_back(request.pool + "/" + request.image);
  return argv;
}

std::vector<std::string> KrbdMapper::UnmapCommand(const std::string& device) const {
  return {"rbd", "device", "unmap", "-t", "krbd", "-o", "noudev", device};
}

bool KrbdMapper::Available() const { return PathExists("/sys/bus/rbd"); }

}  // namespace berth::rbd
