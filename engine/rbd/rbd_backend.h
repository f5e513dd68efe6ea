// The engine's Backend on Ceph RBD: registry omap, images, advisory locks and mappers. It has
// every capability. One file per concern: settings, connection, registry, storage, attach, locks,
// snapshots.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "backends/rbd/cluster.h"
#include "backends/rbd/image.h"
#include "backends/rbd/lock.h"
#include "backends/rbd/mappers/mapper.h"
#include "backends/rbd/object_watch.h"
#include "backends/rbd/release_request.h"
#include "common/error.h"
#include "engine/backend.h"
#include "engine/config.h"
#include "engine/holders_cache.h"
#include "engine/rbd/settings.h"
#include "engine/registry_cache.h"

namespace berth::engine {

class RbdBackend : public Backend,
                   public StorageResizer,
                   public SnapshotStore,
                   public LockAuthority {
 public:
  // `instance_id` is this installation's (engine/instance_id.h): locks carry it with the host id.
  RbdBackend(RbdSettings settings, std::string host_id, std::string instance_id);

  std::optional<VolumeRecord> Lookup(const std::string& name) override;
  std::vector<VolumeRecord> List() override;
  std::optional<VolumeRecord> LookupCached(const std::string& name) override;
  std::shared_ptr<const std::vector<VolumeRecord>> ListCached() override;
  bool RegisterNew(VolumeRecord& record) override;
  bool UpdateRecord(const VolumeRecord& read, VolumeRecord& updated) override;
  void Unregister(const VolumeRecord& record) override;
  void CheckNewStorage(VolumeRecord& record, bool size_given) override;
  void EnsureStorage(const VolumeRecord& record) override;
  void DeleteStorage(const VolumeRecord& record) override;
  AttachResult Attach(const VolumeRecord& record, bool read_only, const std::string& work_dir,
                      const std::string& mount_point) override;
  void Detach(const VolumeRecord& record, const Attachment& attachment) override;
  void UndoAttach(const VolumeRecord& record, bool read_only, const std::string& work_dir) override;
  bool AttachmentHealthy(const Attachment& attachment, const std::string& mount_point) override;
  std::vector<std::string> Watchers(const VolumeRecord& record) override;
  std::vector<HostTool> HostTools() override;
  void SweepAttachDir(const std::string& attach_dir) override;

  StorageResizer* resizer() override { return this; }
  SnapshotStore* snapshots() override { return this; }
  LockAuthority* locks() override { return this; }

  void Grow(const VolumeRecord& record, uint64_t size) override;
  void RefreshAttachment(const VolumeRecord& record, const Attachment& attachment,
                         uint64_t size) override;
  void ValidateSnapshotName(const std::string& snap) const override;
  void CreateSnapshot(const VolumeRecord& record, const std::string& snap,
                      const ProgressFn& progress) override;
  std::vector<SnapshotInfo> ListSnapshots(const VolumeRecord& record) override;
  void RemoveSnapshot(const VolumeRecord& record, const std::string& snap) override;
  void Rollback(const VolumeRecord& record, const std::string& snap,
                const ProgressFn& progress) override;
  void Clone(const VolumeRecord& record, const std::string& snap, const VolumeRecord& clone,
             bool flatten, const ProgressFn& progress) override;
  void BreakLock(const VolumeRecord& record, const HolderInfo& holder, bool fence) override;
  std::vector<HolderInfo> Holders(const VolumeRecord& record) override;
  std::vector<HolderInfo> HoldersCached(const VolumeRecord& record) override;
  void ForgetHost(const std::string& host_id) override;
  uint64_t FencedClientsReplaced() const override { return fenced_clients_; }
  void ServeReleaseRequests(const std::string& volume, const Attachment& attachment,
                            ReleaseHandler handler) override;
  void StopServingReleaseRequests(const std::string& volume) override;
  std::vector<ReleaseAnswer> AskHoldersToRelease(const VolumeRecord& record) override;
  // Connects the Ceph client of the next lock ahead, on `executor` (see TakeLockClient).
  void set_background_executor(Executor executor) override;

 private:
  // This process's shared Ceph client and its pool handles, for everything but the lock of an
  // attachment (see LockWithOwnClient). Replaced, never used again, once Ceph says it was
  // fenced (blocklisted); a call still running on the old one keeps it alive until it returns.
  struct Connection {
    std::shared_ptr<rbd::Cluster> cluster;
    std::string address;  // as Ceph saw it when it connected; for the log
    std::mutex mu;
    std::map<std::string, std::unique_ptr<rbd::IoCtx>> pools;
  };
  // The connection a backend call on this thread started with: every step of the call, and
  // the backend calls it makes, use that one client.
  struct Pinned {
    const RbdBackend* backend = nullptr;
    std::shared_ptr<Connection> connection;
  };
  static thread_local Pinned pinned_;
  enum class Retry { kNo, kOnce };
  // Runs one backend call on the current connection. When Ceph answers that the client was
  // fenced, the connection is replaced; a read (kOnce) then runs again on the new one, and
  // anything else fails kUnavailable saying so: a change is never repeated on its own.
  template <typename Fn>
  auto Guarded(Retry retry, Fn&& fn) -> decltype(fn());
  void ReplaceFencedConnection(const std::shared_ptr<Connection>& fenced);
  // Connects on first use, so configuring an unreachable cluster does not stop berthd.
  std::shared_ptr<Connection> CurrentConnection();
  rbd::ClusterOptions ClientOptions() const;
  rbd::Cluster& cluster();
  const rbd::IoCtx& Pool(const std::string& pool);
  // Takes the volume's lock through a Ceph client of its own, shut down once the lock is
  // taken. The lock names the client that took it, and a fence of the volume blocklists that
  // client: this way it cuts off this volume's lock client and mappers, not the shared client
  // every other volume's control path uses. A lock this installation holds already is kept
  // (false), another host's is kBusy as in rbd::AcquireLock.
  bool LockWithOwnClient(const rbd::IoCtx& io, const VolumeSpec& spec);
  // A new client for one lock: the one connected ahead when there is one, else one connected
  // now. Each is used for one lock only, so a fence of that lock still cuts off nothing else.
  std::shared_ptr<rbd::Cluster> TakeLockClient();
  // With a background executor and no client ready or connecting: connects one there. Called
  // after each attach has mapped.
  void ConnectLockClientAhead();
  // Takes the volume's lock; when another host holds it, takes it over if that host's mappers
  // have not watched the image for the grace period (fencing it first). Else kBusy. True when
  // this call took it (see rbd::AcquireLock).
  bool AcquireOrTakeOver(const rbd::IoCtx& io, const VolumeSpec& spec);
  // Asks whoever serves release requests for the volume (engine/rbd/release.cc); logs and
  // returns their answers.
  std::vector<ReleaseAnswer> AskHolders(const rbd::IoCtx& io, const VolumeSpec& spec);
  // The claim that `spec`'s volume owns its image (backends/rbd/claim.h): made if missing (a
  // volume of an older berth claims on first use); kConflict naming the owner when another
  // volume holds it.
  void EnsureClaim(const rbd::IoCtx& io, const VolumeSpec& spec);
  // Claims this host id for this installation in the registry pool, once per process;
  // kConflict, saying how to fix it, when another installation claimed it.
  void CheckHostClaim();
  // kConflict: the image is `owner`'s (registry pool/volume), never two volumes' at once.
  static Error OwnedByAnother(const VolumeSpec& spec, const std::string& owner);
  // The identity of this installation's lock on `volume`'s image.
  rbd::LockOwner Owner(const std::string& volume) const;
  // This backend's name for a volume in claims: "<registry pool>/<volume>".
  std::string ClaimOwner(const std::string& volume) const;
  // False when `holder` is alive (the refusal stands); true once its lock is broken or gone.
  bool TakeOver(const rbd::IoCtx& io, const VolumeSpec& spec, const rbd::LockHolder& holder,
                const Error& refusal);
  // Every change of a volume's lock goes through these three (rbd::AcquireLock, ReleaseLock,
  // BreakLock), which then tell every host's copy of the holders, even when they fail part-way
  // (TakeLock not after a refusal, which changed nothing).
  bool TakeLock(const rbd::IoCtx& io, const VolumeSpec& spec);
  void ReleaseOwnLock(const rbd::IoCtx& io, const VolumeSpec& spec);
  void BreakHolderLock(const rbd::IoCtx& io, const VolumeSpec& spec, const rbd::LockHolder& holder);
  void NotifyHoldersChanged(const std::string& volume);
  // Reads every registered volume's lock into the holders copy, a few at a time, on the
  // background executor (one scan at a time; none without an executor).
  void ScanHoldersAhead();
  void ReadEveryHolder();
  // Clears this host's recorded mappers once it holds the lock, before mapping (or instead).
  void ForgetMappers(const rbd::IoCtx& io, const std::string& image);
  // Records the watchers that appeared while mapping: the mapper's Ceph clients, for fencing.
  void RecordNewWatchers(const rbd::IoCtx& io, const rbd::Image& image,
                         const std::vector<std::string>& before);

  RbdSettings settings_;
  std::string host_id_;
  std::string instance_id_;
  std::atomic<bool> host_claimed_ = false;
  std::mutex mu_;
  std::shared_ptr<Connection> connection_;
  std::atomic<uint64_t> fenced_clients_ = 0;
  std::mutex spare_mu_;
  Executor background_;
  std::shared_ptr<rbd::Cluster> spare_lock_client_;
  bool spare_connecting_ = false;
  // Per volume served (engine/rbd/release.cc); destroyed before the connection.
  std::mutex watches_mu_;
  std::map<std::string, std::unique_ptr<rbd::ReleaseWatch>> watches_;

  // The registry as last read (engine/rbd/registry.cc), invalidated by the watch on the
  // registry object, which other writers notify; this process's notifies carry its token.
  bool CachingRegistry() const { return settings_.registry_cache_seconds > 0; }
  // Watches the registry object unless a watch is alive; false when it cannot (no registry
  // object yet, Ceph unreachable): then nothing read is kept.
  bool ArmRegistryWatch();
  // Reads the whole registry through and keeps it, if the watch is armed.
  std::vector<VolumeRecord> FillRegistryCache();
  // Tells the other hosts' caches that the registry changed.
  void NotifyRegistryChanged();
  RegistryCache registry_cache_{std::chrono::seconds(settings_.registry_cache_seconds)};
  // 16 Gets that read a lock within the bound make a scan (HoldersCache::NoteMiss).
  HoldersCache holders_cache_{std::chrono::seconds(settings_.registry_cache_seconds), 16};
  std::atomic<bool> holders_scanning_ = false;
  const std::string notify_token_;
  // A process that wrote (berthctl, berth-flex) waits at most this long at exit for its notifies.
  rbd::Notifier notifier_{std::chrono::seconds(1)};
  std::mutex registry_watch_mu_;
  std::unique_ptr<rbd::ObjectWatch> registry_watch_;  // its callbacks use registry_cache_
};

}  // namespace berth::engine
