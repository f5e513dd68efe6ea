// berth-nfs-fuse's FUSE operations (libfuse3 high-level, path based) over a ContextPool.
#pragma once

#include <fuse.h>

#include "backends/nfs/fuse/context_pool.h"

namespace berth::nfs {

struct FilesystemOptions {
  bool read_only = false;
  // How long the kernel may trust attributes and names it got from us. NFS volumes are shared
  // by many hosts, and every second of caching is a second in which another host's write is
  // invisible here; one second keeps `ls -l` and stat-heavy workloads from paying a GETATTR
  // round trip per call while staying close to the kernel NFS client's close-to-open feel.
  double attr_timeout_seconds = 1.0;
};

// Owns nothing but the settings; `pool` must outlive the FUSE session. The operations find
// the Filesystem through fuse_get_context()->private_data.
class Filesystem {
 public:
  Filesystem(ContextPool& pool, FilesystemOptions options) : pool_(pool), options_(options) {}

  static fuse_operations Operations();

  ContextPool& pool() { return pool_; }
  const FilesystemOptions& options() const { return options_; }

 private:
  ContextPool& pool_;
  FilesystemOptions options_;
};

}  // namespace berth::nfs
