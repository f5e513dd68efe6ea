// berth-nfs-fuse's FUSE operations (libfuse3 high-level, path based) over a ContextPool.
#pragma once

#include <fuse.h>

#include "backends/nfs/fuse/context_pool.h"
#include "backends/nfs/fuse/directory_handles.h"

namespace berth::nfs {

struct FilesystemOptions {
  bool read_only = false;
  // How long the kernel may trust attributes and names it got from us. NFS volumes are shared
  // by many hosts, and every second of caching is a second in which another host's write is
  // invisible here; one second keeps `ls -l` and stat-heavy workloads from paying a GETATTR
  // round trip per call while staying close to the kernel NFS client's close-to-open feel.
  double attr_timeout_seconds = 1.0;
};

// `pool` must outlive the FUSE session. The operations find the Filesystem through
// fuse_get_context()->private_data.
class Filesystem {
 public:
  // `root`: the handle of the directory the pool's contexts are mounted on.
  Filesystem(ContextPool& pool, FileHandle root, FilesystemOptions options);

  static fuse_operations Operations();

  ContextPool& pool() { return pool_; }
  DirectoryHandles& directories() { return directories_; }
  const FilesystemOptions& options() const { return options_; }

 private:
  ContextPool& pool_;
  FilesystemOptions options_;
  DirectoryHandles directories_;
};

}  // namespace berth::nfs
