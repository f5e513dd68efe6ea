#include "backends/rbd/mappers/mapper.h"

#include "backends/rbd/mappers/fuse.h"
#include "backends/rbd/mappers/krbd.h"
#include "backends/rbd/mappers/nbd.h"
#include "common/error.h"

namespace berth::rbd {

std::unique_ptr<Mapper> MakeMapper(const std::string& name) {
  if (name == "krbd") {
    return std::make_unique<KrbdMapper>();
  }
  if (name == "nbd") {
    return std::make_unique<NbdMapper>();
  }
  if (name == "fuse") {
    return std::make_unique<FuseMapper>();
  }
  if (name != "auto") {
    throw Error(ErrorCode::kInvalidArgument,
                "unknown mapper '" + name + "'; use auto, krbd, nbd or fuse");
  }
  std::vector<std::unique_ptr<Mapper>> candidates;
  candidates.push_back(std::make_unique<KrbdMapper>());
  candidates.push_back(std::make_unique<NbdMapper>());
  candidates.push_back(std::make_unique<FuseMapper>());
  for (auto& candidate : candidates) {
    if (candidate->Available()) {
      return std::move(candidate);
    }
  }
  throw Error(ErrorCode::kUnavailable,
              "no RBD mapper works on this host: krbd needs the rbd kernel module, nbd the nbd "
              "module and rbd-nbd, fuse needs /dev/fuse, loop devices and rbd-fuse");
}

}  // namespace berth::rbd
