#include "backends/rbd/mappers/krbd.h"

#include <filesystem>

#include "common/files.h"
#include "common/strings.h"

namespace berth::rbd {

std::vector<std::string> KrbdMapper::MapCommand(const MapRequest& request) const {
  std::vector<std::string> argv = {"rbd", "device", "map", "-t", "krbd", "-o"};
  // noshare: a kernel Ceph client of its own for this mapping, so fencing this volume's client
  // (lock break --fence, takeover) blocklists this mapping alone, not every krbd volume on the
  // host, which otherwise share one client.
  argv.push_back(request.read_only ? "noudev,noshare" : "noudev,noshare,exclusive");
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

bool KrbdMapper::Available() const { return PathExists(sysfs_ + "/bus/rbd"); }

std::vector<std::string> KrbdMapper::Devices() const {
  std::vector<std::string> devices;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(sysfs_ + "/bus/rbd/devices", ec)) {
    devices.push_back("/dev/rbd" + entry.path().filename().string());
  }
  return devices;
}

bool KrbdMapper::ServesImage(const MappedDevice& mapped) const {
  if (mapped.pool.empty() || mapped.image.empty()) {
    return true;
  }
  const std::string prefix = "/dev/rbd";
  if (!mapped.device.starts_with(prefix)) {
    return false;
  }
  const std::string dir = sysfs_ + "/bus/rbd/devices/" + mapped.device.substr(prefix.size());
  auto pool = ReadFileIfExists(dir + "/pool");
  auto image = ReadFileIfExists(dir + "/name");
  return pool && image && Trim(*pool) == mapped.pool && Trim(*image) == mapped.image;
}

}  // namespace berth::rbd
