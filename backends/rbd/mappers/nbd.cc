#include "backends/rbd/mappers/nbd.h"

#include "common/files.h"

namespace berth::rbd {

std::vector<std::string> NbdMapper::MapCommand(const MapRequest& request) const {
  std::vector<std::string> argv = {"rbd-nbd", "map", "--try-netlink", "--reattach-timeout", "300"};
  argv.push_back(request.read_only ? "--read-only" : "--exclusive");
  AppendCephArgs(request, argv);
  argv.push_back(request.pool + "/" + request.image);
  return argv;
}

std::vector<std::string> NbdMapper::UnmapCommand(const std::string& device) const {
  return {"rbd-nbd", "unmap", device};
}

bool NbdMapper::Available() const { return PathExists("/sys/module/nbd"); }

}  // namespace berth::rbd
