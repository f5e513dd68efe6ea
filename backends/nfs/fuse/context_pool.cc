#include "backends/nfs/fuse/context_pool.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <nfsc/libnfs-zdr.h>
#include <spdlog/spdlog.h>

namespace berth::nfs {

namespace {

// Errors that say the transport failed rather than the operation: the context's socket and
// its queue may be in any state afterwards. libnfs 4.0 reports an RPC timeout as EINTR.
bool IsTransportError(int rc) {
  switch (-rc) {
    case EINTR:
    case EIO:
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ECONNRESET:
    case ENOTCONN:
    case EPIPE:
      return true;
    default:
      return false;
  }
}

}  // namespace

ContextPool::ContextPool(ContextOptions options, size_t max_contexts)
    : options_(std::move(options)), max_contexts_(std::max<size_t>(1, max_contexts)) {}

ContextPool::Lease::~Lease() {
  if (slot_ != nullptr) {
    pool_->Release(slot_);
  }
}

void ContextPool::Lease::Impersonate(const Credentials& credentials) {
  if (slot_->has_credentials_ && slot_->credentials_ == credentials) {
    return;
  }
  std::vector<uint32_t> groups(credentials.groups.begin(), credentials.groups.end());
  // nfs_set_auth takes ownership of the AUTH and frees the previous one.
  AUTH* auth = libnfs_authunix_create("berth", credentials.uid, credentials.gid,
                                      static_cast<uint32_t>(groups.size()), groups.data());
  if (auth == nullptr) {
    return;  // out of memory: keep the previous credentials rather than none
  }
  nfs_set_auth(slot_->get(), auth);
  slot_->credentials_ = credentials;
  slot_->has_credentials_ = true;
}

int ContextPool::Lease::Check(int rc) {
  if (rc < 0 && IsTransportError(rc)) {
    spdlog::warn("NFS transport failure ({}); the context will be replaced",
                 slot_->context().LastError());
    std::lock_guard lock(pool_->mutex_);
    slot_->broken_ = true;
  }
  return rc;
}

ContextPool::Lease ContextPool::Acquire() {
  std::unique_lock lock(mutex_);
  for (;;) {
    Slot* best = nullptr;
    // Broken contexts kept alive for their open files do not count: they must not starve
    // new requests of a working context.
    size_t healthy = 0;
    for (const auto& slot : slots_) {
      healthy += slot->broken_ ? 0 : 1;
      if (!slot->busy_ && !slot->broken_ && slot->context_ &&
          (best == nullptr || slot->open_files_ < best->open_files_)) {
        best = slot.get();
      }
    }
    // A context with open files is kept for its files' I/O when the cap allows another one.
    if (best != nullptr && (best->open_files_ == 0 || healthy >= max_contexts_)) {
      best->busy_ = true;
      return Lease(this, best);
    }
    if (healthy < max_contexts_) {
      Slot* fresh = slots_.emplace_back(std::make_unique<Slot>()).get();
      fresh->busy_ = true;
      lock.unlock();  // mounting takes round trips; others may use the existing contexts
      try {
        auto context = NfsContext::Connect(options_);
        // The kernel already applied the caller's umask to the modes FUSE passes down.
        nfs_umask(context->get(), 0);
        lock.lock();
        fresh->context_ = std::move(context);
        spdlog::debug("mounted NFS context {} of at most {}", healthy + 1, max_contexts_);
        return Lease(this, fresh);
      } catch (...) {
        if (!lock.owns_lock()) {
          lock.lock();
        }
        std::erase_if(slots_, [fresh](const auto& slot) { return slot.get() == fresh; });
        released_.notify_all();
        throw;
      }
    }
    released_.wait(lock);
  }
}

ContextPool::Lease ContextPool::AcquireSlot(Slot* slot) {
  std::unique_lock lock(mutex_);
  released_.wait(lock, [slot] { return !slot->busy_; });
  slot->busy_ = true;
  return Lease(this, slot);
}

void ContextPool::AddOpenFile(Slot* slot) {
  std::lock_guard lock(mutex_);
  ++slot->open_files_;
}

void ContextPool::RemoveOpenFile(Slot* slot) {
  std::lock_guard lock(mutex_);
  --slot->open_files_;
  RetireLocked(slot);
}

void ContextPool::Release(Slot* slot) {
  {
    std::lock_guard lock(mutex_);
    slot->busy_ = false;
    RetireLocked(slot);
  }
  released_.notify_all();
}

void ContextPool::RetireLocked(Slot* slot) {
  // Retiring drops the socket with whatever libnfs left queued on it; the next Acquire mounts
  // a fresh context, which reconnects once the server is back.
  if (slot->broken_ && !slot->busy_ && slot->open_files_ == 0) {
    std::erase_if(slots_, [slot](const auto& owned) { return owned.get() == slot; });
  }
}

}  // namespace berth::nfs
