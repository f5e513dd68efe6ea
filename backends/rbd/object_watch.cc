#include "backends/rbd/object_watch.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <csignal>

#include "common/error.h"

namespace berth::rbd {

// Callbacks get it raw: the watch holds it until none can run any more (unwatch, then flush).
struct ObjectWatch::State : std::enable_shared_from_this<State> {
  std::shared_ptr<Cluster> cluster;
  IoCtx io;
  std::string object;
  OnNotify on_notify;
  OnLost on_lost;
  uint64_t cookie = 0;
  std::atomic<bool> alive{true};

  State(std::shared_ptr<Cluster> c, IoCtx i, std::string o, OnNotify n, OnLost l)
      : cluster(std::move(c)),
        io(std::move(i)),
        object(std::move(o)),
        on_notify(std::move(n)),
        on_lost(std::move(l)) {}
};

namespace {

void OnNotifyCallback(void* arg, uint64_t notify_id, uint64_t handle, uint64_t /*notifier_id*/,
                      void* data, size_t data_len) {
  auto state = static_cast<ObjectWatch::State*>(arg)->shared_from_this();
  auto reply = [state, notify_id, handle](const std::string& payload) {
    const int r = rados_notify_ack(state->io.get(), state->object.c_str(), notify_id, handle,
                                   payload.data(), static_cast<int>(payload.size()));
    if (r < 0) {
      spdlog::warn("cannot answer a notify on {}: error {}", state->object, -r);
    }
  };
  try {
    state->on_notify(std::string(static_cast<const char*>(data), data_len), reply);
  } catch (const std::exception& e) {
    spdlog::warn("a notify on {} failed: {}", state->object, e.what());
    reply("");
  }
}

void OnErrorCallback(void* arg, uint64_t /*handle*/, int err) {
  auto* state = static_cast<ObjectWatch::State*>(arg);
  state->alive = false;
  state->on_lost(err);
}

}  // namespace

ObjectWatch::ObjectWatch(std::shared_ptr<Cluster> cluster, const std::string& pool,
                         std::string object, OnNotify on_notify, OnLost on_lost) {
  IoCtx io = cluster->OpenPool(pool);
  state_ = std::make_shared<State>(std::move(cluster), std::move(io), std::move(object),
                                   std::move(on_notify), std::move(on_lost));
  const int r = rados_watch2(state_->io.get(), state_->object.c_str(), &state_->cookie,
                             OnNotifyCallback, OnErrorCallback, state_.get());
  if (r < 0) {
    throw ErrnoError(r, "cannot watch " + state_->object);
  }
}

ObjectWatch::~ObjectWatch() {
  const int r = rados_unwatch2(state_->io.get(), state_->cookie);
  if (r < 0 && r != -ENOTCONN) {
    spdlog::warn("cannot unwatch {}: error {}", state_->object, -r);
  }
  rados_watch_flush(state_->cluster->get());  // no callback runs after this
}

bool ObjectWatch::alive() const { return state_->alive; }

Notifier::Notifier(std::chrono::milliseconds timeout) : timeout_(timeout) {
  // The worker is the library's, not the program's: it must never be the thread a SIGTERM or
  // SIGINT lands on (berth-csi waits for those with sigwait, blocked everywhere else; an
  // unblocked worker would take the default action and kill it). It starts with every signal
  // blocked, as Ceph's own threads do.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  worker_ = std::jthread([this](const std::stop_token& stop) { Work(stop); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

Notifier::~Notifier() {
  worker_.request_stop();  // it sends what is queued first
  worker_.join();
}

void Notifier::Notify(const std::shared_ptr<Cluster>& cluster, const std::string& pool,
                      const std::string& object, const std::string& payload) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({cluster, pool, object, payload});
  }
  queued_.notify_one();
}

void Notifier::Work(const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  for (;;) {
    queued_.wait(lock, stop, [&] { return !queue_.empty(); });
    if (queue_.empty()) {
      return;  // stopped, and nothing left to send
    }
    const Pending notify = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Send(notify);
    lock.lock();
  }
}

void Notifier::Send(const Pending& notify) const {
  try {
    const IoCtx io = notify.cluster->OpenPool(notify.pool);
    char* reply = nullptr;
    size_t reply_len = 0;
    const int r = rados_notify2(io.get(), notify.object.c_str(), notify.payload.data(),
                                static_cast<int>(notify.payload.size()),
                                static_cast<uint64_t>(timeout_.count()), &reply, &reply_len);
    if (reply != nullptr) {
      rados_buffer_free(reply);
    }
    // -ETIMEDOUT: a watcher did not answer in time (a dead one, until Ceph drops its watch);
    // the others got the notify.
    if (r < 0 && r != -ETIMEDOUT) {
      throw ErrnoError(r, "cannot notify the watchers of " + notify.object);
    }
  } catch (const Error& e) {
    spdlog::warn("{}; they see the change within their bound instead", e.what());
  }
}

}  // namespace berth::rbd
