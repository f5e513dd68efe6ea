// Release requests between hosts over RADOS watch/notify on a volume's lock object
// (rbd::LockObject): the host that keeps a volume attached without using it (a linger) watches
// the object, and a host that needs the volume notifies it and gets the answer at once, instead
// of waiting out a takeover grace for a holder that is alive.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/rbd/cluster.h"
#include "backends/rbd/object_watch.h"

namespace berth::rbd {

// A watcher's answer to one request.
struct ReleaseAnswer {
  bool released = false;  // the volume's attachment and lock on that host are gone now
  std::string detail;     // why not, or what it did, for the asker's messages
};

// A watch on the lock object of `image` in `pool`. Every request calls `handler` on a librados
// thread, which must not block: it hands the work elsewhere and calls the reply once (a request
// never replied to times out on the asker's side). Unwatches on destruction, after the
// callbacks in flight have returned; a reply called later is still safe.
class ReleaseWatch {
 public:
  using Reply = std::function<void(const ReleaseAnswer&)>;
  using Handler = std::function<void(const std::string& asker, Reply reply)>;

  ReleaseWatch(std::shared_ptr<Cluster> cluster, const std::string& pool, const std::string& image,
               Handler handler);
  ~ReleaseWatch();
  ReleaseWatch(const ReleaseWatch&) = delete;
  ReleaseWatch& operator=(const ReleaseWatch&) = delete;

  // False once Ceph dropped the watch (the client lost its session): requests no longer arrive.
  bool alive() const;

 private:
  std::unique_ptr<ObjectWatch> watch_;
};

// How long an asker waits for answers: a holder tears down in well under a second, and one that
// cannot answer in this time is busy, which is the answer.
inline constexpr std::chrono::seconds kReleaseAnswerTimeout{15};

// Asks every watcher of `image`'s lock object to release it and waits up to `timeout` for their
// answers (a watcher that times out reads as not released): none when nobody watches. `asker`
// names this host in the holder's log.
std::vector<ReleaseAnswer> AskToRelease(const IoCtx& io, const std::string& image,
                                        const std::string& asker,
                                        std::chrono::milliseconds timeout = kReleaseAnswerTimeout);

// An answer as a watcher sends it, and as the asker reads it back: a payload that is not an
// answer (another client's ack) reads as not released, with the payload as its detail.
std::string AnswerPayload(const ReleaseAnswer& answer);
ReleaseAnswer AnswerFromPayload(const std::string& payload);

}  // namespace berth::rbd
