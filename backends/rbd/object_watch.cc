#include "backends/rbd/object_watch.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>

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

struct Notifier::InFlight {
  std::shared_ptr<Cluster> cluster;
  IoCtx io;
  std::string payload;
  rados_completion_t completion = nullptr;
  bool started = false;  // only a notify that was sent completes
  char* reply = nullptr;
  size_t reply_len = 0;

  InFlight(std::shared_ptr<Cluster> c, IoCtx i, std::string p)
      : cluster(std::move(c)), io(std::move(i)), payload(std::move(p)) {}
  ~InFlight() {
    if (completion != nullptr) {
      if (started) {
        rados_aio_wait_for_complete(completion);
      }
      rados_aio_release(completion);
    }
    if (reply != nullptr) {
      rados_buffer_free(reply);
    }
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
};

Notifier::Notifier(std::chrono::milliseconds timeout) : timeout_(timeout) {}

Notifier::~Notifier() {
  std::lock_guard lock(mu_);
  in_flight_.clear();  // each waits for its notify
}

void Notifier::ReapCompleted() {
  in_flight_.remove_if(
      [](const auto& notify) { return rados_aio_is_complete(notify->completion) != 0; });
}

void Notifier::Notify(const std::shared_ptr<Cluster>& cluster, const std::string& pool,
                      const std::string& object, const std::string& payload) {
  try {
    auto notify = std::make_unique<InFlight>(cluster, cluster->OpenPool(pool), payload);
    if (const int r = rados_aio_create_completion2(nullptr, nullptr, &notify->completion); r < 0) {
      throw ErrnoError(r, "cannot make a completion");
    }
    const int r = rados_aio_notify(notify->io.get(), object.c_str(), notify->completion,
                                   notify->payload.data(), static_cast<int>(notify->payload.size()),
                                   static_cast<uint64_t>(timeout_.count()), &notify->reply,
                                   &notify->reply_len);
    if (r < 0) {
      throw ErrnoError(r, "cannot notify the watchers of " + object);
    }
    notify->started = true;
    std::lock_guard lock(mu_);
    ReapCompleted();
    in_flight_.push_back(std::move(notify));
  } catch (const Error& e) {
    spdlog::warn("{}; they see the change within their bound instead", e.what());
  }
}

}  // namespace berth::rbd
