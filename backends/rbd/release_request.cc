#include "backends/rbd/release_request.h"

#include <rados/librados.h>
#include <rados/rados_types.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>

#include "backends/rbd/lock.h"
#include "common/error.h"

namespace berth::rbd {

// Callbacks get it raw: the watch holds it until none can run any more (unwatch, then flush).
struct ReleaseWatch::State : std::enable_shared_from_this<State> {
  std::shared_ptr<Cluster> cluster;
  IoCtx io;
  std::string object;
  Handler handler;
  uint64_t cookie = 0;
  std::atomic<bool> alive{true};

  State(std::shared_ptr<Cluster> c, IoCtx i, std::string o, Handler h)
      : cluster(std::move(c)), io(std::move(i)), object(std::move(o)), handler(std::move(h)) {}
};

namespace {

void OnNotify(void* arg, uint64_t notify_id, uint64_t handle, uint64_t /*notifier_id*/, void* data,
              size_t data_len) {
  auto state = static_cast<ReleaseWatch::State*>(arg)->shared_from_this();
  std::string asker = "an unknown host";
  try {
    const auto request =
        nlohmann::json::parse(std::string(static_cast<const char*>(data), data_len));
    asker = "host " + request.at("host").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    // Not berth's request: still answered, so the asker never waits for a timeout.
  }
  auto reply = [state, notify_id, handle](const ReleaseAnswer& answer) {
    const std::string payload = AnswerPayload(answer);
    const int r = rados_notify_ack(state->io.get(), state->object.c_str(), notify_id, handle,
                                   payload.data(), static_cast<int>(payload.size()));
    if (r < 0) {
      spdlog::warn("cannot answer a release request on {}: error {}", state->object, -r);
    }
  };
  try {
    state->handler(asker, reply);
  } catch (const std::exception& e) {
    reply({false, std::string("the holder failed to handle the request: ") + e.what()});
  }
}

void OnError(void* arg, uint64_t /*handle*/, int err) {
  auto* state = static_cast<ReleaseWatch::State*>(arg);
  state->alive = false;
  spdlog::warn(
      "the release-request watch on {} was lost (error {}); other hosts wait for this "
      "host's linger to end instead",
      state->object, -err);
}

}  // namespace

ReleaseWatch::ReleaseWatch(std::shared_ptr<Cluster> cluster, const std::string& pool,
                           const std::string& image, Handler handler) {
  IoCtx io = cluster->OpenPool(pool);
  state_ = std::make_shared<State>(std::move(cluster), std::move(io), LockObject(image),
                                   std::move(handler));
  const int r = rados_watch2(state_->io.get(), state_->object.c_str(), &state_->cookie, OnNotify,
                             OnError, state_.get());
  if (r < 0) {
    throw ErrnoError(r, "cannot watch " + state_->object + " for release requests");
  }
}

ReleaseWatch::~ReleaseWatch() {
  const int r = rados_unwatch2(state_->io.get(), state_->cookie);
  if (r < 0 && r != -ENOTCONN) {
    spdlog::warn("cannot unwatch {}: error {}", state_->object, -r);
  }
  rados_watch_flush(state_->cluster->get());  // no callback runs after this
}

bool ReleaseWatch::alive() const { return state_->alive; }

std::vector<ReleaseAnswer> AskToRelease(const IoCtx& io, const std::string& image,
                                        const std::string& asker,
                                        std::chrono::milliseconds timeout) {
  const std::string object = LockObject(image);
  const std::string request = nlohmann::json{{"ask", "release"}, {"host", asker}}.dump();
  char* reply = nullptr;
  size_t reply_len = 0;
  const int r =
      rados_notify2(io.get(), object.c_str(), request.data(), static_cast<int>(request.size()),
                    static_cast<uint64_t>(timeout.count()), &reply, &reply_len);
  struct FreeReply {
    char* buffer;
    ~FreeReply() {
      if (buffer != nullptr) {
        rados_buffer_free(buffer);
      }
    }
  } free_reply{reply};
  if (r == -ENOENT) {
    return {};  // no lock object: nobody has ever locked the volume, so nobody watches it
  }
  if (r < 0 && r != -ETIMEDOUT) {
    throw ErrnoError(r, "cannot ask the holders of " + object + " to release it");
  }
  std::vector<ReleaseAnswer> answers;
  if (reply == nullptr) {
    return answers;
  }
  notify_ack_t* acks = nullptr;
  size_t ack_count = 0;
  notify_timeout_t* timeouts = nullptr;
  size_t timeout_count = 0;
  if (rados_decode_notify_response(reply, reply_len, &acks, &ack_count, &timeouts,
                                   &timeout_count) != 0) {
    throw Error(ErrorCode::kInternal, "cannot read the answers to a release request on " + object);
  }
  for (size_t i = 0; i < ack_count; ++i) {
    answers.push_back(AnswerFromPayload(std::string(acks[i].payload, acks[i].payload_len)));
  }
  for (size_t i = 0; i < timeout_count; ++i) {
    answers.push_back(
        {false, "a holder did not answer within " + std::to_string(timeout.count()) + " ms"});
  }
  rados_free_notify_response(acks, ack_count, timeouts);
  return answers;
}

std::string AnswerPayload(const ReleaseAnswer& answer) {
  return nlohmann::json{{"released", answer.released}, {"detail", answer.detail}}.dump();
}

ReleaseAnswer AnswerFromPayload(const std::string& payload) {
  try {
    const auto json = nlohmann::json::parse(payload);
    return {json.at("released").get<bool>(), json.at("detail").get<std::string>()};
  } catch (const nlohmann::json::exception&) {
    return {false, payload};
  }
}

}  // namespace berth::rbd
