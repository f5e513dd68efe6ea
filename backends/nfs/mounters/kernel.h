// The kernel NFS client through mount(2).
#pragma once

#include "backends/nfs/mounters/mounter.h"

namespace berth::nfs {

struct KernelMountArgs {
  std::string source;                // "server:/export/db"
  std::string fstype;                // "nfs" or "nfs4"
  std::vector<std::string> options;  // mount(2) options, addr= resolved
};

class KernelMounter : public NfsMounter {
 public:
  std::string name() const override { return "kernel"; }
  bool Available() const override;  // "nfs" in /proc/filesystems
  NfsMounted Mount(const NfsMountRequest& request) override;
  void Release(const NfsMounted& mounted) override;
  bool Healthy(const NfsMounted& mounted, const std::string& mount_point) const override;

  // mount(2) does no name resolution and no portmapper queries of its own for nfs: the
  // address and ports must be in the options. `address` is the resolved server address.
  static KernelMountArgs Args(const NfsMountRequest& request, const std::string& address);
};

}  // namespace berth::nfs
