// Snapshots, rollback under the volume's lock, and clones.
#include "engine/rbd/rbd_backend.h"

#include "backends/rbd/image.h"
#include "backends/rbd/lock.h"
#include "backends/rbd/snapshot.h"
#include "common/error.h"
#include "common/undo.h"
#include "engine/rbd/guarded.h"

namespace berth::engine {

void RbdBackend::ValidateSnapshotName(const std::string& snap) const {
  rbd::ValidateSnapshotName(snap);
}

void RbdBackend::CreateSnapshot(const VolumeRecord& record, const std::string& snap,
                                const ProgressFn& /*progress*/) {
  return Guarded(Retry::kNo, [&]() -> void {
    rbd::CreateSnapshot(Pool(record.spec.pool), record.spec.image, snap);
  });
}

std::vector<SnapshotInfo> RbdBackend::ListSnapshots(const VolumeRecord& record) {
  return Guarded(Retry::kOnce, [&]() -> std::vector<SnapshotInfo> {
    std::vector<SnapshotInfo> out;
    for (const auto& s : rbd::ListSnapshots(Pool(record.spec.pool), record.spec.image)) {
      out.push_back({s.name, s.size, s.used_bytes, s.created, s.is_protected});
    }
    return out;
  });
}

void RbdBackend::RemoveSnapshot(const VolumeRecord& record, const std::string& snap) {
  return Guarded(Retry::kNo, [&]() -> void {
    rbd::RemoveSnapshot(Pool(record.spec.pool), record.spec.image, snap);
  });
}

void RbdBackend::Rollback(const VolumeRecord& record, const std::string& snap,
                          const ProgressFn& progress) {
  return Guarded(Retry::kNo, [&]() -> void {
    // The lock and the rollback's writes go through a client of the rollback's own, so a fence
    // of this volume meanwhile cuts off the client that writes it and nothing else.
    const auto client = rbd::Cluster::Connect(ClientOptions());
    const rbd::IoCtx io = client->OpenPool(record.spec.pool);
    const auto& image = record.spec.image;
    const auto fenced = [&](const Error& e) {
      return Error(
          ErrorCode::kUnavailable,
          "rollback of volume " + record.spec.name + " stopped: its Ceph client was " +
              "fenced (another host took the volume over, or an operator fenced it): " + e.what());
    };
    // Held for the whole rollback, so no host can attach read-write meanwhile; a read-only
    // mapper that appeared since the engine's check is caught here.
    if (!TakeLock(io, record.spec)) {
      // The engine checked that nothing is attached here: a lock of ours is left from an attach
      // whose state is gone. Not this rollback's to take over or to release.
      throw Error(ErrorCode::kBusy, "volume " + record.spec.name +
                                        " is still locked by this host with no attachment on "
                                        "record; run `berthctl health --fix`, then retry");
    }
    bool was_fenced = false;  // then the lock is no longer this client's to release
    {
      UndoOnFailure undo("rollback of volume " + record.spec.name);
      undo.Add([&] {
        if (!was_fenced) {
          ReleaseOwnLock(io, record.spec);
        }
      });
      try {
        ForgetMappers(io, image);  // held with no mapper: nobody may mistake it for a dead attach
        if (auto watchers = rbd::Image(io, image, rbd::Image::Mode::kReadOnly).WatcherAddresses();
            !watchers.empty()) {
          throw Error(ErrorCode::kBusy, "volume " + record.spec.name + " was mapped by " +
                                            watchers[0] + " meanwhile; rollback not started");
        }
        rbd::RollbackSnapshot(io, image, snap, progress);
      } catch (const Error& e) {
        if (e.system_errno() == ESHUTDOWN) {
          was_fenced = true;
          throw fenced(e);
        }
        throw;
      }
    }
    ReleaseOwnLock(io, record.spec);
  });
}

void RbdBackend::Clone(const VolumeRecord& record, const std::string& snap,
                       const VolumeRecord& clone, bool flatten, const ProgressFn& progress) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& clone_io = Pool(clone.spec.pool);
    EnsureClaim(clone_io, clone.spec);
    if (!rbd::ImageExists(clone_io, clone.spec.image)) {
      rbd::CloneSnapshot(Pool(record.spec.pool), record.spec.image, snap, clone_io,
                         clone.spec.image, rbd::ParseFeatures(clone.spec.features));
    }
    if (flatten) {
      rbd::Flatten(clone_io, clone.spec.image, progress);
    }
  });
}

}  // namespace berth::engine
