#include "backends/rbd/mappers/command_mapper.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "common/subprocess.h"

namespace berth::rbd {

void AppendCephArgs(const MapRequest& request, std::vector<std::string>& argv) {
  argv.insert(argv.end(), {"--id", request.user, "-c", request.conf_file});
  if (!request.keyring.empty()) {
    argv.insert(argv.end(), {"--keyring", request.keyring});
  }
  if (!request.keyfile.empty()) {
    argv.insert(argv.end(), {"--keyfile", request.keyfile});
  }
}

MappedDevice CommandMapper::Map(const MapRequest& request) {
  const auto argv = MapCommand(request);
  auto result = RunCommand(argv, std::chrono::minutes(2));
  if (result.exit_code != 0) {
    throw Error(ErrorCode::kUnavailable, name() + " map of " + request.pool + "/" + request.image +
                                             " failed: " + Trim(result.err));
  }
  return {name(), Trim(result.out), 0, "", request.pool, request.image};
}

void CommandMapper::Unmap(const MappedDevice& mapped) {
  if (!PathExists(mapped.device)) {
    return;
  }
  if (!ServesImage(mapped)) {
    // After a reboot or an unmap elsewhere the name may belong to another image now.
    spdlog::warn("{} no longer maps {}/{}; not unmapping it", mapped.device, mapped.pool,
                 mapped.image);
    return;
  }
  auto result = RunCommand(UnmapCommand(mapped.device), std::chrono::minutes(1));
  if (result.exit_code != 0 && result.err.find("not mapped") == std::string::npos &&
      result.err.find("No such") == std::string::npos) {
    throw Error(ErrorCode::kBusy,
                name() + " unmap of " + mapped.device + " failed: " + Trim(result.err));
  }
}

void CommandMapper::UnmapAbandoned(const MapRequest& request) {
  for (const auto& device : Devices()) {
    const MappedDevice mapped{name(), device, 0, "", request.pool, request.image};
    if (ServesImage(mapped)) {
      spdlog::warn("unmapping {}: it maps {}/{} for an attach that never finished", device,
                   request.pool, request.image);
      Unmap(mapped);
    }
  }
}

bool CommandMapper::Healthy(const MappedDevice& mapped) const {
  return PathExists(mapped.device) && ServesImage(mapped);
}

}  // namespace berth::rbd
