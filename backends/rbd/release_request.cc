#include "backends/rbd/release_request.h"

#include <rados/librados.h>
#include <rados/rados_types.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <cerrno>

#include "backends/rbd/lock.h"
#include "common/error.h"

namespace berth::rbd {

ReleaseWatch::ReleaseWatch(std::shared_ptr<Cluster> cluster, const std::string& pool,
                           const std::string& image, Handler handler) {
  const std::string object = LockObject(image);
  auto on_notify = [handler = std::move(handler)](const std::string& request,
                                                  const ObjectWatch::Reply& reply) {
    std::string asker = "an unknown host";
    try {
      asker = "host " + nlohmann::json::parse(request).at("host").get<std::string>();
    } catch (const nlohmann::json::exception&) {
      // Not berth's request: still answered, so the asker never waits for a timeout.
    }
    auto answer = [reply](const ReleaseAnswer& a) { reply(AnswerPayload(a)); };
    try {
      handler(asker, answer);
    } catch (const std::exception& e) {
      answer({false, std::string("the holder failed to handle the request: ") + e.what()});
    }
  };
  auto on_lost = [object](int err) {
    spdlog::warn(
        "the release-request watch on {} was lost (error {}); other hosts wait for this "
        "host's linger to end instead",
        object, -err);
  };
  try {
    watch_ = std::make_unique<ObjectWatch>(std::move(cluster), pool, object, std::move(on_notify),
                                           std::move(on_lost));
  } catch (const Error& e) {
    throw Error(e.code(), std::string(e.what()) + " for release requests", e.system_errno());
  }
}

ReleaseWatch::~ReleaseWatch() = default;

bool ReleaseWatch::alive() const { return watch_->alive(); }

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
