// Release requests over RADOS watch/notify on each volume's lock object.
#include <spdlog/spdlog.h>

#include "backends/rbd/release_request.h"
#include "common/error.h"
#include "engine/rbd/guarded.h"
#include "engine/rbd/mapped.h"
#include "engine/rbd/rbd_backend.h"

namespace berth::engine {

void RbdBackend::ServeReleaseRequests(const std::string& volume, const Attachment& attachment,
                                      ReleaseHandler handler) {
  const auto mapped = MappedOf(attachment);
  if (mapped.pool.empty() || mapped.image.empty()) {
    throw Error(ErrorCode::kInternal,
                "volume " + volume + ": its attachment does not name its pool and image");
  }
  Guarded(Retry::kOnce, [&]() -> void {
    std::lock_guard lock(watches_mu_);
    auto& slot = watches_[volume];
    if (slot && slot->alive()) {
      return;
    }
    slot.reset();  // a lost watch is replaced, never kept beside the new one
    slot = std::make_unique<rbd::ReleaseWatch>(
        CurrentConnection()->cluster, mapped.pool, mapped.image,
        [handler = std::move(handler)](const std::string& asker, rbd::ReleaseWatch::Reply reply) {
          handler(asker, [reply = std::move(reply)](const ReleaseAnswer& answer) {
            reply({answer.released, answer.detail});
          });
        });
  });
}

void RbdBackend::StopServingReleaseRequests(const std::string& volume) {
  std::unique_ptr<rbd::ReleaseWatch> watch;
  {
    std::lock_guard lock(watches_mu_);
    if (auto it = watches_.find(volume); it != watches_.end()) {
      watch = std::move(it->second);
      watches_.erase(it);
    }
  }
  // Unwatched outside the lock: it waits for callbacks in flight, which may serve others.
}

std::vector<ReleaseAnswer> RbdBackend::AskHolders(const rbd::IoCtx& io, const VolumeSpec& spec) {
  std::vector<ReleaseAnswer> answers;
  for (const auto& answer : rbd::AskToRelease(io, spec.image, host_id_)) {
    spdlog::info("volume {}: asked its holder to release it: {}", spec.name, answer.detail);
    answers.push_back({answer.released, answer.detail});
  }
  return answers;
}

std::vector<ReleaseAnswer> RbdBackend::AskHoldersToRelease(const VolumeRecord& record) {
  return Guarded(Retry::kOnce, [&]() -> std::vector<ReleaseAnswer> {
    return AskHolders(Pool(record.spec.pool), record.spec);
  });
}

}  // namespace berth::engine
