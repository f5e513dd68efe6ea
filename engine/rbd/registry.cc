// The registry omap and the claims on images and host ids.
#include "engine/rbd/rbd_backend.h"

#include <spdlog/spdlog.h>

#include "backends/rbd/claim.h"
#include "backends/rbd/registry.h"
#include "common/error.h"
#include "engine/instance_id.h"
#include "engine/rbd/guarded.h"

namespace berth::engine {

namespace {
// Between the sender's token and the volume in the notify of a lock change.
constexpr std::string_view kHoldersChange = " holders ";
}  // namespace

std::optional<VolumeRecord> RbdBackend::Lookup(const std::string& name) {
  return Guarded(Retry::kOnce, [&]() -> std::optional<VolumeRecord> {
    auto text = rbd::Registry(Pool(settings_.pool)).Get(name);
    if (!text) {
      return std::nullopt;
    }
    auto record = RecordFromString(name, *text);
    record.stored = *text;
    return record;
  });
}

std::vector<VolumeRecord> RbdBackend::List() {
  return Guarded(Retry::kOnce, [&]() -> std::vector<VolumeRecord> {
    std::vector<VolumeRecord> records;
    for (const auto& [name, text] : rbd::Registry(Pool(settings_.pool)).List()) {
      try {
        records.push_back(RecordFromString(name, text));
        records.back().stored = text;
      } catch (const Error& e) {
        spdlog::warn("skipping registry entry: {}", e.what());
      }
    }
    return records;
  });
}

std::shared_ptr<const std::vector<VolumeRecord>> RbdBackend::ListCached() {
  if (CachingRegistry()) {
    if (auto records = registry_cache_.List()) {
      return records;
    }
    return std::make_shared<const std::vector<VolumeRecord>>(FillRegistryCache());
  }
  return std::make_shared<const std::vector<VolumeRecord>>(List());
}

std::optional<VolumeRecord> RbdBackend::LookupCached(const std::string& name) {
  if (!CachingRegistry()) {
    return Lookup(name);
  }
  if (auto record = registry_cache_.Lookup(name)) {
    return record;
  }
  if (!registry_cache_.Fresh()) {
    // Not valid: read it all (the next Gets need no round trip); what was just read answers.
    for (auto& record : FillRegistryCache()) {
      if (record.spec.name == name) {
        return std::move(record);
      }
    }
    return std::nullopt;
  }
  return Lookup(name);  // valid, but without it: it may have been created elsewhere just now
}

std::vector<VolumeRecord> RbdBackend::FillRegistryCache() {
  // Watched before the read: a change after the read began invalidates what it returns.
  const bool watching = ArmRegistryWatch();
  const uint64_t generation = registry_cache_.generation();
  auto records = List();
  if (watching) {
    registry_cache_.Fill(generation, records);
  }
  return records;
}

bool RbdBackend::ArmRegistryWatch() {
  std::lock_guard lock(registry_watch_mu_);
  if (registry_watch_ && registry_watch_->alive()) {
    return true;
  }
  registry_watch_.reset();
  // Ceph unreachable is the read's own error: said once, not after a second wait.
  auto cluster = CurrentConnection()->cluster;
  try {
    registry_watch_ = std::make_unique<rbd::ObjectWatch>(
        std::move(cluster), settings_.pool, rbd::kRegistryObject,
        [this](const std::string& payload, const rbd::ObjectWatch::Reply& reply) {
          // "<token>" for a registry change, "<token> holders <volume>" for a lock change.
          const auto holders_at = payload.find(kHoldersChange);
          // This process's own changes are in its copies already.
          if (payload.compare(0, holders_at, notify_token_) != 0) {
            if (holders_at == std::string::npos) {
              registry_cache_.Invalidate();
            } else {
              holders_cache_.Invalidate(payload.substr(holders_at + kHoldersChange.size()));
            }
          }
          reply("");
        },
        [this](int err) {
          registry_cache_.Invalidate();
          holders_cache_.InvalidateAll();
          spdlog::warn(
              "the watch on pool {}'s registry was lost (error {}); its reads go to Ceph "
              "until it is watched again",
              settings_.pool, -err);
        });
  } catch (const Error& e) {
    // No registry object yet (nothing registered), or the OSD refused: read through.
    spdlog::debug("pool {}'s registry is not cached: {}", settings_.pool, e.what());
    return false;
  }
  return true;
}

void RbdBackend::NotifyRegistryChanged() {
  // Whether or not this host caches: the others' copies rely on it.
  notifier_.Notify(CurrentConnection()->cluster, settings_.pool, rbd::kRegistryObject,
                   notify_token_);
}

void RbdBackend::NotifyHoldersChanged(const std::string& volume) {
  holders_cache_.Invalidate(volume);
  try {
    notifier_.Notify(CurrentConnection()->cluster, settings_.pool, rbd::kRegistryObject,
                     notify_token_ + std::string(kHoldersChange) + volume);
  } catch (const std::exception& e) {  // called while a lock change unwinds: never throws
    spdlog::warn("cannot tell the other hosts that volume {}'s lock changed: {}", volume, e.what());
  }
}

bool RbdBackend::RegisterNew(VolumeRecord& record) {
  return Guarded(Retry::kNo, [&]() -> bool {
    const std::string text = RecordToString(record);
    if (!rbd::Registry(Pool(settings_.pool)).PutNew(record.spec.name, text)) {
      return false;
    }
    record.stored = text;
    registry_cache_.Put(record);
    holders_cache_.Invalidate(record.spec.name);  // a new volume of an old name
    NotifyRegistryChanged();
    return true;
  });
}

bool RbdBackend::UpdateRecord(const VolumeRecord& read, VolumeRecord& updated) {
  return Guarded(Retry::kNo, [&]() -> bool {
    const std::string text = RecordToString(updated);
    if (read.stored.empty() ||
        !rbd::Registry(Pool(settings_.pool)).Replace(read.spec.name, read.stored, text)) {
      return false;
    }
    updated.stored = text;
    registry_cache_.Put(updated);
    NotifyRegistryChanged();
    return true;
  });
}

void RbdBackend::Unregister(const VolumeRecord& record) {
  return Guarded(Retry::kNo, [&]() -> void {
    const std::string& name = record.spec.name;
    rbd::Registry registry(Pool(settings_.pool));
    const auto expected =
        record.stored.empty() ? std::nullopt : std::optional<std::string>(record.stored);
    if (!registry.Remove(name, expected)) {
      spdlog::warn("volume {} changed in the registry meanwhile; its entry is left", name);
      return;
    }
    registry_cache_.Erase(name);
    holders_cache_.Invalidate(name);
    NotifyRegistryChanged();
    // A Create that failed after claiming its image leaves no claim behind.
    rbd::ReleaseClaim(Pool(record.spec.pool), rbd::ImageClaim(record.spec.image), ClaimOwner(name));
  });
}

std::string RbdBackend::ClaimOwner(const std::string& volume) const {
  return settings_.pool + "/" + volume;
}

Error RbdBackend::OwnedByAnother(const VolumeSpec& spec, const std::string& owner) {
  return Error(ErrorCode::kConflict,
               "RBD image " + spec.pool + "/" + spec.image + " belongs to volume " + owner +
                   " (registry pool/volume); volume " + spec.name +
                   " cannot use it too: two volumes on one image would mount one filesystem "
                   "twice. Use that volume, or give this one another image");
}

void RbdBackend::CheckHostClaim() {
  if (host_claimed_) {
    return;
  }
  const auto& io = Pool(settings_.pool);
  const std::string holder = rbd::Claim(io, rbd::HostClaim(host_id_), instance_id_);
  if (holder != instance_id_) {
    throw HostIdTakenError(host_id_, "on this Ceph cluster", holder, instance_id_);
  }
  host_claimed_ = true;
}

void RbdBackend::ForgetHost(const std::string& host_id) {
  return Guarded(Retry::kNo, [&]() -> void {
    rbd::ForgetClaim(Pool(settings_.pool), rbd::HostClaim(host_id));
    if (host_id == host_id_) {
      host_claimed_ = false;
    }
  });
}

void RbdBackend::EnsureClaim(const rbd::IoCtx& io, const VolumeSpec& spec) {
  const std::string me = ClaimOwner(spec.name);
  if (const std::string holder = rbd::Claim(io, rbd::ImageClaim(spec.image), me); holder != me) {
    throw OwnedByAnother(spec, holder);
  }
}

}  // namespace berth::engine
