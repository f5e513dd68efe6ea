// The engine's Backend on NFS: a directory per volume on the export, a metadata file per
// volume under /.berth/volumes as the registry, and the kernel or FUSE mounter. NFS volumes
// are shared (no lock) and have no size of their own (no resizer); snapshots are copies. One
// file per concern: settings, registry, storage, attach, snapshots.
#pragma once

#include <exception>
#include <mutex>

#include "backends/nfs/export_tree.h"
#include "engine/backend.h"
#include "engine/config.h"
#include "engine/nfs/settings.h"
#include "engine/registry_cache.h"

namespace berth::engine {

class NfsBackend : public Backend, public SnapshotStore {
 public:
  // `instance_id` is this installation's (engine/instance_id.h): the host id is registered to it
  // on the export, as on a Ceph cluster, so two installations with one host id never share the
  // per-host mount records that guard Remove and Rollback.
  NfsBackend(NfsSettings settings, std::string host_id, std::string instance_id)
      : settings_(std::move(settings)),
        host_id_(std::move(host_id)),
        instance_id_(std::move(instance_id)) {}

  std::optional<VolumeRecord> Lookup(const std::string& name) override;
  std::vector<VolumeRecord> List() override;
  // From the registry as last read, while the registry directory's change stamp (one stat) is
  // the one it was read at and the copy is younger than registry_cache_seconds.
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
  SnapshotStore* snapshots() override { return this; }

  void ValidateSnapshotName(const std::string& snap) const override;
  void CreateSnapshot(const VolumeRecord& record, const std::string& snap,
                      const ProgressFn& progress) override;
  std::vector<SnapshotInfo> ListSnapshots(const VolumeRecord& record) override;
  void RemoveSnapshot(const VolumeRecord& record, const std::string& snap) override;
  void Rollback(const VolumeRecord& record, const std::string& snap,
                const ProgressFn& progress) override;
  void Clone(const VolumeRecord& record, const std::string& snap, const VolumeRecord& clone,
             bool flatten, const ProgressFn& progress) override;
  void ForgetHost(const std::string& host_id) override;

 private:
  // One libnfs context, connected on first use; a sync context is not thread-safe, so every
  // call on it holds mu_ (these are metadata calls of a few ms; I/O goes through mounts).
  nfs::ExportTree& Tree();
  // The registry's records; the caller holds a TreeLock.
  std::vector<VolumeRecord> ListLocked();
  // kConflict when another registered volume's directory is `spec`'s, inside it, or holds
  // it (compared without case: an export may be case-insensitive). The caller holds a TreeLock.
  void CheckNoOverlap(const VolumeSpec& spec);
  // kBusy naming the hosts that record the volume as mounted. The caller holds a TreeLock.
  void CheckNotMounted(const VolumeSpec& spec, const std::string& doing);
  // Holds mu_ for a call on the tree; marks the connection broken if the call throws.
  class TreeLock {
   public:
    explicit TreeLock(NfsBackend& backend);
    ~TreeLock();
    TreeLock(const TreeLock&) = delete;
    TreeLock& operator=(const TreeLock&) = delete;

   private:
    NfsBackend& backend_;
    std::lock_guard<std::mutex> lock_;
    int exceptions_;
  };
  std::string Url() const;
  // /.berth/hosts/<host id> holds the installation that uses the host id; kConflict when it is
  // another one. The caller holds a TreeLock.
  void CheckHostClaim();

  NfsSettings settings_;
  std::string host_id_;
  std::string instance_id_;
  bool host_claimed_ = false;  // under mu_
  std::mutex mu_;
  std::unique_ptr<nfs::ExportTree> tree_;
  // Whether the copy is current: the stamp now is the one it was read at. The caller holds a
  // TreeLock.
  bool RegistryCopyCurrent();
  RegistryCache registry_cache_{std::chrono::seconds(settings_.registry_cache_seconds)};
  std::optional<std::string> registry_stamp_;  // under mu_: the copy's, as read before it
  bool broken_ = false;                        // set by TreeLock when a call failed
};

}  // namespace berth::engine
