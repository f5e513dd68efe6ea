// RADOS watch/notify on one object: a watch that hands each notify to a callback, and a
// notifier that tells an object's watchers something changed without waiting for them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "backends/rbd/cluster.h"

namespace berth::rbd {

// A watch on `object` in `pool`. `on_notify` runs on a librados thread for every notify and
// must not block: it calls its reply once, perhaps later from another thread (a notify never
// replied to times out on the notifier's side). `on_lost` runs once Ceph drops the watch (the
// client lost its session); nothing arrives after that. Unwatches on destruction, after the
// callbacks in flight have returned; a reply called later is still safe.
class ObjectWatch {
 public:
  using Reply = std::function<void(const std::string& payload)>;
  using OnNotify = std::function<void(const std::string& payload, Reply reply)>;
  using OnLost = std::function<void(int error)>;

  // kNotFound when the object does not exist (a watch needs one).
  ObjectWatch(std::shared_ptr<Cluster> cluster, const std::string& pool, std::string object,
              OnNotify on_notify, OnLost on_lost);
  ~ObjectWatch();
  ObjectWatch(const ObjectWatch&) = delete;
  ObjectWatch& operator=(const ObjectWatch&) = delete;

  bool alive() const;

  struct State;  // shared with replies still pending

 private:
  std::shared_ptr<State> state_;
};

// Notifies without making the caller wait for the watchers' answers: a watcher that died keeps
// its watch until Ceph times it out, and a change must not wait for that. The notifies go out
// one at a time, in order, from a thread of the Notifier's own, each with librados' synchronous
// notify (up to `timeout`); the destructor sends what is queued and joins.
//
// Why not rados_aio_notify: librados (16.2) can crash in its own io_context_pool thread when
// the pool handle or the client goes away soon after an aio notify completed (its linger op is
// cancelled behind the completion): berth-flex-driver crashed so, with no reply, once in a test
// run. A small C program that connects, notifies a watched object, waits for the completion,
// closes and shuts down, 1500 times in each of 5 processes at once, crashed 3 of 5 times with
// rados_aio_notify and none in 5000 rounds with rados_notify2, which returns only once its
// linger op is gone.
class Notifier {
 public:
  explicit Notifier(std::chrono::milliseconds timeout);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Best effort: a notify that cannot be sent is logged, and watchers fall back on their
  // bound (a watch that misses a change must not trust its copy for long).
  void Notify(const std::shared_ptr<Cluster>& cluster, const std::string& pool,
              const std::string& object, const std::string& payload);

 private:
  struct Pending {
    std::shared_ptr<Cluster> cluster;
    std::string pool;
    std::string object;
    std::string payload;
  };
  void Send(const Pending& notify) const;
  void Work(const std::stop_token& stop);

  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable_any queued_;
  std::deque<Pending> queue_;
  std::jthread worker_;  // last: it uses the members above
};

}  // namespace berth::rbd
