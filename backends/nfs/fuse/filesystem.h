// berth-nfs-fuse's FUSE operations (libfuse3 high-level, path based) over a ContextPool.
#pragma once

#include <fuse.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>

#include "backends/nfs/fuse/context_pool.h"
#include "backends/nfs/fuse/directory_handles.h"
#include "backends/nfs/fuse/link_aliases.h"
#include "backends/nfs/fuse/write_behind.h"

namespace berth::nfs {

struct FilesystemOptions {
  bool read_only = false;
  // How long the kernel may trust attributes and names it got from us. NFS volumes are shared
  // by many hosts, and every second of caching is a second in which another host's write is
  // invisible here; one second keeps `ls -l` and stat-heavy workloads from paying a GETATTR
  // round trip per call while staying close to the kernel NFS client's close-to-open feel.
  double attr_timeout_seconds = 1.0;
  // How much of one file's writes may be queued, answered but not yet sent (WriteBehind);
  // 0: every write waits for the server.
  size_t write_behind_bytes = size_t{4} << 20;
  // Runs once, in the first request: the kernel sends none before INIT is done.
  std::function<void()> on_first_request;
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
  WriteBehind& write_behind() { return *write_behind_; }
  LinkAliases& aliases() { return aliases_; }
  void OnFirstRequest();
  const FilesystemOptions& options() const { return options_; }

 private:
  ContextPool& pool_;
  FilesystemOptions options_;
  DirectoryHandles directories_;
  LinkAliases aliases_;
  std::once_flag first_request_;
  std::unique_ptr<WriteBehind> write_behind_;  // last: its workers use the members above
};

}  // namespace berth::nfs
