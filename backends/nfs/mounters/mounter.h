// Mounters put a volume's directory on the NFS export at a local mount point: the kernel
// client (production) or berth-nfs-fuse (anywhere with FUSE).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace berth::nfs {

struct NfsMountRequest {
  std::string server;       // host name or address
  std::string export_path;  // "/export"
  std::string directory;    // the volume's directory below the export, "/db"
  int nfs_port = 2049;
  int mount_port = 0;  // 0: ask the server's portmapper
  int version = 3;
  std::vector<std::string> options;  // the user's mount options
  bool read_only = false;
  bool allow_suid = false;  // mounted nosuid unless set; always nodev
  int timeout_ms = 10000;
  std::string mount_point;
  std::string work_dir;  // private per-volume directory (FUSE logs)
};

struct NfsMounted {
  std::string mounter;  // "kernel" or "fuse"
  pid_t pid = 0;        // fuse: the detached berth-nfs-fuse
  // fuse: the volume's private directory; the process's --log names a file in it, which tells it
  // from another volume's berth-nfs-fuse (pids recycle). Empty in records of older berths.
  std::string work_dir;
};

class NfsMounter {
 public:
  virtual ~NfsMounter() = default;
  virtual std::string name() const = 0;
  virtual bool Available() const = 0;
  virtual NfsMounted Mount(const NfsMountRequest& request) = 0;
  // After the engine unmounted the mount point: stop what is left. Idempotent.
  virtual void Release(const NfsMounted& mounted) = 0;
  virtual bool Healthy(const NfsMounted& mounted, const std::string& mount_point) const = 0;
};

// "kernel", "fuse", or "auto": kernel where this host can mount NFS, FUSE otherwise.
std::unique_ptr<NfsMounter> MakeNfsMounter(const std::string& name);

}  // namespace berth::nfs
