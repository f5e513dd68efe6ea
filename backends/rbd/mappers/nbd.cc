#include "backends/rbd/mappers/nbd.h"

#include <filesystem>

#include "common/files.h"
#include "common/strings.h"

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

bool NbdMapper::Available() const { return PathExists(sysfs_ + "/module/nbd"); }

std::vector<std::string> NbdMapper::Devices() const {
  std::vector<std::string> devices;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(sysfs_ + "/block", ec)) {
    if (const std::string name = entry.path().filename(); name.starts_with("nbd")) {
      devices.push_back("/dev/" + name);
    }
  }
  return devices;
}

bool NbdMapper::ServesImage(const MappedDevice& mapped) const {
  if (mapped.pool.empty() || mapped.image.empty()) {
    return true;
  }
  const std::string prefix = "/dev/";
  if (!mapped.device.starts_with(prefix)) {
    return false;
  }
  auto pid = ReadFileIfExists(sysfs_ + "/block/" + mapped.device.substr(prefix.size()) + "/pid");
  if (!pid) {
    return false;  // no daemon behind the device
  }
  auto cmdline = ReadFileIfExists(proc_ + "/" + Trim(*pid) + "/cmdline");
  if (!cmdline) {
    return false;
  }
  for (const auto& arg : Split(*cmdline, '\0')) {
    if (arg == mapped.pool + "/" + mapped.image) {
      return true;
    }
  }
  return false;
}

}  // namespace berth::rbd
