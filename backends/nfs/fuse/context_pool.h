// A bounded pool of mounted libnfs contexts shared by the FUSE worker threads.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "backends/nfs/handle_calls.h"
#include "backends/nfs/nfs_context.h"

namespace berth::nfs {

// Why a pool and not one context: a libnfs sync context is one socket driven by the calling
// thread, so sharing one would serialize every request. Why not thread_local: libfuse starts
// and retires worker threads as load changes. Contexts are created lazily, up to
// `max_contexts` (the FUSE thread cap, so a request never waits for a context while another
// one sits unused).
//
// Open files are file handles, which name the file on the server whichever connection carries
// the call: any context serves any file, and readers of one file do not queue behind one socket.
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
    // Declared before the context, so it outlives it: libnfs completes calls still in flight
    // (with an error) when the context is destroyed, and their records live in `calls_`.
    std::unique_ptr<HandleCalls> calls_;
    std::unique_ptr<NfsContext> context_;  // null while being mounted
    bool busy_ = false;
    bool broken_ = false;  // a transport failure: replaced once released
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
    // NFSv3 calls by file handle on this context.
    HandleCalls& calls() const { return *slot_->calls_; }
    // The RPCs that follow carry these credentials (AUTH_SYS), so the server checks the
    // calling process's permissions, not the mounter's (root's).
    void Impersonate(const Credentials& credentials);
    // Records that `rc` (a libnfs -errno) came back; transport failures retire the context.
    int Check(int rc);
    // The connection failed (a HandleCalls call threw): the context is retired.
    void MarkBroken();

   private:
    ContextPool* pool_;
    Slot* slot_;
  };

  ContextPool(ContextOptions options, size_t max_contexts);
  ContextPool(const ContextPool&) = delete;
  ContextPool& operator=(const ContextPool&) = delete;

  // Any idle context, mounting a new one while under the cap. Mount failures throw berth::Error.
  Lease Acquire();

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
