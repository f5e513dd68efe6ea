// The single-writer lock: taking it (over from a dead host), listing and breaking it.
#include "engine/rbd/rbd_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "backends/rbd/image.h"
#include "backends/rbd/lock.h"
#include "common/error.h"
#include "common/strings.h"
#include "engine/rbd/guarded.h"

namespace berth::engine {

namespace {

// Calls `done` when it goes out of scope, whether the change it guards succeeded or threw.
template <typename Fn>
class OnScopeExit {
 public:
  explicit OnScopeExit(Fn done) : done_(std::move(done)) {}
  OnScopeExit(const OnScopeExit&) = delete;
  OnScopeExit& operator=(const OnScopeExit&) = delete;
  ~OnScopeExit() { done_(); }

 private:
  Fn done_;
};

}  // namespace

bool RbdBackend::TakeLock(const rbd::IoCtx& io, const VolumeSpec& spec) {
  bool took = false;
  try {
    took = rbd::AcquireLock(io, spec.image, spec.name, Owner(spec.name));
  } catch (const Error& e) {
    // kBusy and kConflict are refusals made before anything was locked (a held volume asked
    // for again and again need not wake every host); any other failure may have locked it.
    if (e.code() != ErrorCode::kBusy && e.code() != ErrorCode::kConflict) {
      NotifyHoldersChanged(spec.name);
    }
    throw;
  }
  if (took) {  // false: held by this installation already, nothing changed
    NotifyHoldersChanged(spec.name);
  }
  return took;
}

void RbdBackend::ReleaseOwnLock(const rbd::IoCtx& io, const VolumeSpec& spec) {
  OnScopeExit notify([&] { NotifyHoldersChanged(spec.name); });
  rbd::ReleaseLock(io, spec.image, Owner(spec.name));
}

void RbdBackend::BreakHolderLock(const rbd::IoCtx& io, const VolumeSpec& spec,
                                 const rbd::LockHolder& holder) {
  OnScopeExit notify([&] { NotifyHoldersChanged(spec.name); });
  rbd::BreakLock(io, spec.image, holder);
}

bool RbdBackend::LockWithOwnClient(const rbd::IoCtx& io, const VolumeSpec& spec) {
  if (!rbd::ListLockHolders(io, spec.image).empty()) {
    // Ours already (kept), or another's (refused): no lock to take, so no client to make.
    return TakeLock(io, spec);
  }
  const auto client = TakeLockClient();
  return TakeLock(client->OpenPool(spec.pool), spec);
}

void RbdBackend::set_background_executor(Executor executor) {
  // Nothing is connected yet: Ceph may be down now, and a connect that waits out its timeout
  // would hold up berthd's stop. An attach that mapped has just reached Ceph.
  std::lock_guard lock(spare_mu_);
  background_ = std::move(executor);
}

void RbdBackend::ConnectLockClientAhead() {
  std::lock_guard lock(spare_mu_);
  if (!background_ || spare_lock_client_ || spare_connecting_) {
    return;
  }
  spare_connecting_ = true;
  background_([this] {
    std::shared_ptr<rbd::Cluster> client;
    try {
      client = rbd::Cluster::Connect(ClientOptions());
    } catch (const Error& e) {
      // Ceph unreachable now: the next lock connects its own client, and says why if it fails.
      spdlog::debug("cannot connect the next lock's Ceph client ahead: {}", e.what());
    }
    std::lock_guard done(spare_mu_);
    spare_lock_client_ = std::move(client);
    spare_connecting_ = false;
  });
}

std::shared_ptr<rbd::Cluster> RbdBackend::TakeLockClient() {
  std::shared_ptr<rbd::Cluster> client;
  {
    std::lock_guard lock(spare_mu_);
    client = std::move(spare_lock_client_);
  }
  if (client) {
    // Connected a while ago, and idle since: OSDs may have restarted (new addresses) meanwhile.
    // One monitor round trip brings its map up to date; a connect would take several.
    try {
      client->RefreshOsdMap();
      return client;
    } catch (const Error& e) {
      spdlog::debug("dropping the lock client connected ahead: {}", e.what());
    }
  }
  return rbd::Cluster::Connect(ClientOptions());
}

bool RbdBackend::AcquireOrTakeOver(const rbd::IoCtx& io, const VolumeSpec& spec) {
  try {
    return LockWithOwnClient(io, spec);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kBusy) {
      throw;
    }
    const auto holders = rbd::ListLockHolders(io, spec.image);
    if (holders.size() != 1 || holders.front().host_id.empty()) {
      throw;  // not a berth host's lock (or gone meanwhile): never asked, never taken over
    }
    // A holder that keeps the volume only lingering gives it up when asked (no takeover: it
    // unlocks itself); one that uses it says so, and that is the refusal.
    std::string answers;
    for (const auto& answer : AskHolders(io, spec)) {
      if (answer.released) {
        return LockWithOwnClient(io, spec);
      }
      answers += (answers.empty() ? "" : "; ") + answer.detail;
    }
    if (!answers.empty()) {
      throw Error(ErrorCode::kBusy, std::string(e.what()) + " (it answered: " + answers + ")");
    }
    if (!settings_.takeover || !TakeOver(io, spec, holders.front(), e)) {
      throw;
    }
  }
  return LockWithOwnClient(io, spec);
}

bool RbdBackend::TakeOver(const rbd::IoCtx& io, const VolumeSpec& spec,
                          const rbd::LockHolder& holder, const Error& refusal) {
  using Clock = std::chrono::steady_clock;
  // The holder's I/O goes through the mapper clients it recorded when it attached. Without
  // that record there is nothing certain to fence, so the volume is not taken over.
  const auto mappers = rbd::RecordedMappers(io, spec.image, holder.host_id);
  if (mappers.empty()) {
    throw Error(ErrorCode::kBusy, std::string(refusal.what()) +
                                      " (no mapper of that host is recorded, so berth cannot "
                                      "fence it and will not take the volume over)");
  }
  const auto holder_watches = [&] {
    for (const auto& address :
         rbd::Image(io, spec.image, rbd::Image::Mode::kReadOnly).WatcherAddresses()) {
      if (address == holder.address ||
          std::find(mappers.begin(), mappers.end(), address) != mappers.end()) {
        return true;
      }
    }
    return false;
  };
  const auto same_holder = [&] {
    const auto now = rbd::ListLockHolders(io, spec.image);
    return now.size() == 1 && now.front().client == holder.client &&
           now.front().cookie == holder.cookie;
  };
  if (holder_watches()) {
    return false;  // alive: the refusal stands
  }
  const auto grace = std::chrono::seconds(settings_.takeover_grace_seconds);
  spdlog::warn(
      "volume {}: host {} holds its lock but none of its mappers watches the image; taking it "
      "over in {}s unless one comes back",
      spec.name, holder.host_id, grace.count());
  for (const auto deadline = Clock::now() + grace; Clock::now() < deadline;) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(500), deadline - Clock::now()));
    if (!same_holder()) {
      return true;  // released or taken meanwhile: let AcquireLock decide again
    }
    if (holder_watches()) {
      spdlog::info("volume {}: host {} is watching the image again; not taking it over", spec.name,
                   holder.host_id);
      return false;
    }
  }
  // Fence first: once the lock is broken this host writes, so the old one must not be able to.
  std::vector<std::string> fenced = {holder.address};
  fenced.insert(fenced.end(), mappers.begin(), mappers.end());
  for (const auto& address : fenced) {
    try {
      cluster().Blocklist(address, static_cast<uint32_t>(settings_.fence_seconds));
    } catch (const Error& e) {
      throw Error(ErrorCode::kBusy, std::string(refusal.what()) + "; its mappers are gone but " +
                                        "fencing it failed (" + e.what() +
                                        "), so berth will not take the volume over");
    }
  }
  if (!same_holder()) {
    return true;
  }
  BreakHolderLock(io, spec, holder);
  spdlog::warn(
      "AUDIT: volume {} taken over from host {} ({} at {}) after {}s without a watch; fenced {} "
      "for {}s",
      spec.name, holder.host_id, holder.client, holder.address, grace.count(), Join(fenced, ", "),
      settings_.fence_seconds);
  return true;
}

std::vector<HolderInfo> RbdBackend::Holders(const VolumeRecord& record) {
  return Guarded(Retry::kOnce, [&]() -> std::vector<HolderInfo> {
    const auto& spec = record.spec;
    std::vector<HolderInfo> holders;
    for (const auto& h : rbd::ListLockHolders(Pool(spec.pool), spec.image)) {
      holders.push_back({h.host_id, h.client, h.address});
    }
    return holders;
  });
}

std::vector<HolderInfo> RbdBackend::HoldersCached(const VolumeRecord& record) {
  if (!CachingRegistry()) {
    return Holders(record);
  }
  const std::string& name = record.spec.name;
  if (auto holders = holders_cache_.Lookup(name)) {
    return std::move(*holders);
  }
  // Watched before the read, as the registry is: a lock change during the read drops it.
  if (!ArmRegistryWatch()) {
    return Holders(record);
  }
  const uint64_t generation = holders_cache_.generation();
  auto holders = Holders(record);
  holders_cache_.Fill(generation, name, holders);
  if (holders_cache_.NoteMiss()) {
    ScanHoldersAhead();
  }
  return holders;
}

void RbdBackend::ScanHoldersAhead() {
  std::lock_guard lock(spare_mu_);
  if (!background_ || holders_scanning_.exchange(true)) {
    return;
  }
  background_([this] {
    try {
      ReadEveryHolder();
    } catch (const std::exception& e) {
      spdlog::debug("the scan of pool {}'s lock holders stopped: {}", settings_.pool, e.what());
    }
    holders_scanning_ = false;
  });
}

void RbdBackend::ReadEveryHolder() {
  // A few reads at a time: each is one small round trip, and they overlap well.
  constexpr size_t kReaders = 8;
  if (!ArmRegistryWatch()) {
    return;
  }
  const uint64_t generation = holders_cache_.generation();
  const auto listed = ListCached();
  const auto& records = *listed;
  std::atomic<size_t> next = 0;
  const auto read = [&] {
    for (size_t at = next++; at < records.size(); at = next++) {
      try {
        holders_cache_.Fill(generation, records[at].spec.name, Holders(records[at]));
      } catch (const std::exception& e) {
        spdlog::debug("cannot read volume {}'s lock holders: {}", records[at].spec.name, e.what());
      }
    }
  };
  std::vector<std::jthread> readers;
  for (size_t i = 1; i < kReaders && i < records.size(); ++i) {
    readers.emplace_back(read);
  }
  read();
}

void RbdBackend::BreakLock(const VolumeRecord& record, const HolderInfo& holder, bool fence) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& io = Pool(record.spec.pool);
    if (fence) {
      // Fence before breaking: once the lock is gone another host may write, so the old holder
      // must already be unable to. The lock was taken by the holder's berth process; its I/O
      // goes through the mapper clients recorded at attach, so those are fenced too.
      std::vector<std::string> addresses = {holder.address};
      std::vector<std::string> mappers;
      if (!holder.host_id.empty()) {
        mappers = rbd::RecordedMappers(io, record.spec.image, holder.host_id);
      }
      if (mappers.empty()) {
        // Not recorded (an older berth, or the record failed): every client with the image open
        // may be the writer, so all are fenced. Read-only users elsewhere must remap.
        mappers = rbd::Image(io, record.spec.image, rbd::Image::Mode::kReadOnly).WatcherAddresses();
      }
      addresses.insert(addresses.end(), mappers.begin(), mappers.end());
      for (const auto& address : addresses) {
        cluster().Blocklist(address, static_cast<uint32_t>(settings_.fence_seconds));
        spdlog::warn("fenced client {} (host {}) of volume {}", address,
                     holder.host_id.empty() ? "unknown" : holder.host_id, record.spec.name);
      }
    }
    for (const auto& h : rbd::ListLockHolders(io, record.spec.image)) {
      if (h.client == holder.client && h.address == holder.address) {
        BreakHolderLock(io, record.spec, h);
        spdlog::warn("broke the lock of volume {} held by {} at {} (host {})", record.spec.name,
                     h.client, h.address, h.host_id.empty() ? "unknown" : h.host_id);
      }
    }
  });
}

}  // namespace berth::engine
