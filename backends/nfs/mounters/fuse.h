// berth-nfs-fuse, berth's own FUSE filesystem over libnfs, run detached from berthd so a
// berthd restart never interrupts I/O.
#pragma once

#include "backends/nfs/mounters/mounter.h"

namespace berth::nfs {

class FuseMounter : public NfsMounter {
 public:
  std::string name() const override { return "fuse"; }
  bool Available() const override;
  NfsMounted Mount(const NfsMountRequest& request) override;
  void Release(const NfsMounted& mounted) override;
  bool Healthy(const NfsMounted& mounted, const std::string& mount_point) const override;
  // Whether mounted.pid is still this volume's berth-nfs-fuse (its --log lies in the work dir).
  static bool Serves(const NfsMounted& mounted);

  static std::string Url(const NfsMountRequest& request);
  static std::vector<std::string> Command(const NfsMountRequest& request,
                                          const std::string& binary);
};

}  // namespace berth::nfs
