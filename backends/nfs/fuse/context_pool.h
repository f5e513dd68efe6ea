// A bounded pool of mounted libnfs contexts shared by the FUSE worker threads.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "backends/nfs/nfs_context.h"

namespace berth::nfs {

// Why a pool and not one context: a libnfs sync context is one socket driven by the calling
// thread, so sharing one would serialize every request. Why not thread_local: libfuse starts
// and retires worker threads as load changes, and a context dying with its thread would take
// the files opened on it along. Contexts are created lazily, up to `max_contexts` (the FUSE
// thread cap, so a request never waits for a context while another one sits unused).
//
// Open files: an nfsfh belongs to the context that opened it (its readahead and offset state
// live there and libnfs documents no cross-context use). A file keeps a pointer to its Slot and
// every I/O on it checks out exactly that slot, waiting while another thread uses it. New opens
// prefer a context with no open files, so files opened in parallel spread over contexts and
// readers of different files do not queue behind one socket.
class ContextPool {
 public:
  struct Credentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    bool operator==(const Credentials&) const = default;
  };

  class Slot {
   public:
    nfs_context* get() const { return context_->get(); }
    const NfsContext& context() const { return *context_; }

   private:
    friend class ContextPool;
    std::unique_ptr<NfsContext> context_;  // null while being mounted
    bool busy_ = false;
    bool broken_ = false;  // a transport failure: replaced once no file depends on it
    size_t open_files_ = 0;
    bool has_credentials_ = false;
    Credentials credentials_;
  };

  // Exclusive use of one slot's context until destroyed.
  class Lease {
   public:
    Lease(ContextPool* pool, Slot* slot) : pool_(pool), slot_(slot) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), slot_(other.slot_) {
      other.slot_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    nfs_context* get() const { return slot_->get(); }
    Slot* slot() const { return slot_; }
    // The RPCs that follow carry these credentials (AUTH_SYS), so the server checks the
    // calling process's permissions, not the mounter's (root's).
    void Impersonate(const Credentials& credentials);
    // Records that `rc` (a libnfs -errno) came back; transport failures retire the context.
    int Check(int rc);

   private:
    ContextPool* pool_;
    Slot* slot_;
  };

  ContextPool(ContextOptions options, size_t max_contexts);
  ContextPool(const ContextPool&) = delete;
  ContextPool& operator=(const ContextPool&) = delete;

  // Any idle context, mounting a new one while under the cap. Mount failures throw berth::Error.
  Lease Acquire();
  // `slot` itself, for I/O on a file it opened.
  Lease AcquireSlot(Slot* slot);
  // Pins a slot while a file opened on it is open, so it is never retired under the file.
  void AddOpenFile(Slot* slot);
  void RemoveOpenFile(Slot* slot);

 private:
  void Release(Slot* slot);
  void RetireLocked(Slot* slot);

  const ContextOptions options_;
  const size_t max_contexts_;
  std::mutex mutex_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace berth::nfs
