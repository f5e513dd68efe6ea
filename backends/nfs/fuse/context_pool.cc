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
    MarkBroken();
  }
  return rc;
}

void ContextPool::Lease::MarkBroken() {
  spdlog::warn("NFS transport failure ({}); the context will be replaced",
               slot_->context().LastError());
  std::lock_guard lock(pool_->mutex_);
  slot_->broken_ = true;
}

ContextPool::Lease ContextPool::Acquire() {
  std::unique_lock lock(mutex_);
  for (;;) {
    for (const auto& slot : slots_) {
      if (!slot->busy_ && !slot->broken_ && slot->context_) {
        slot->busy_ = true;
        return Lease(this, slot.get());
      }
    }
    if (slots_.size() < max_contexts_) {
      Slot* fresh = slots_.emplace_back(std::make_unique<Slot>()).get();
      fresh->busy_ = true;
      lock.unlock();  // mounting takes round trips; others may use the existing contexts
      try {
        auto context = NfsContext::Connect(options_);
        // The kernel already applied the caller's umask to the modes FUSE passes down.
        nfs_umask(context->get(), 0);
        auto calls = std::make_unique<HandleCalls>(*context);
        lock.lock();
        fresh->calls_ = std::move(calls);
        fresh->context_ = std::move(context);
        spdlog::debug("mounted NFS context {} of at most {}", slots_.size(), max_contexts_);
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
  if (slot->broken_ && !slot->busy_) {
    std::erase_if(slots_, [slot](const auto& owned) { return owned.get() == slot; });
  }
}

}  // namespace berth::nfs
