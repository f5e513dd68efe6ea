// RADOS watch/notify on one object: a watch that hands each notify to a callback, and a
// notifier that tells an object's watchers something changed without waiting for them.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>

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

// Notifies without waiting for the watchers' answers: a watcher that died keeps its watch until
// Ceph times it out, and a change must not wait for that. Each notify holds its own pool handle
// and a reference to its client until it completes (within `timeout`); the destructor waits
// for those still in flight.
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
  struct InFlight;
  void ReapCompleted();  // with mu_ held

  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::list<std::unique_ptr<InFlight>> in_flight_;
};

}  // namespace berth::rbd
