#include "backends/nfs/mounters/mounter.h"

#include "backends/nfs/mounters/fuse.h"
#include "backends/nfs/mounters/kernel.h"
#include "common/error.h"

namespace berth::nfs {

std::unique_ptr<NfsMounter> MakeNfsMounter(const std::string& name) {
  if (name == "kernel") {
    return std::make_unique<KernelMounter>();
  }
  if (name == "fuse") {
    return std::make_unique<FuseMounter>();
  }
  if (name != "auto") {
    throw Error(ErrorCode::kInvalidArgument,
                "unknown NFS mounter '" + name + "'; use auto, kernel or fuse");
  }
  if (auto kernel = std::make_unique<KernelMounter>(); kernel->Available()) {
    return kernel;
  }
  if (auto fuse = std::make_unique<FuseMounter>(); fuse->Available()) {
    return fuse;
  }
  throw Error(ErrorCode::kUnavailable,
              "no NFS mounter works on this host: the kernel has no nfs filesystem and "
              "/dev/fuse or berth-nfs-fuse is missing");
}

}  // namespace berth::nfs
