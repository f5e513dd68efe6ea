// Engine operations on snapshots, clones and locks: what `berthctl snapshot` and `berthctl
// lock` run.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/error.h"
#include "common/signals.h"
#include "engine/capability.h"
#include "engine/engine.h"
#include "engine/volume_lock.h"

namespace berth::engine {

namespace {

// Frozen while it lives, and thawed whatever happens.
class FrozenFilesystem {
 public:
  FrozenFilesystem(Host& host, std::string mount_point)
      : host_(host), mount_point_(std::move(mount_point)) {
    host_.Freeze(mount_point_);
  }
  ~FrozenFilesystem() {
    try {
      host_.Thaw(mount_point_);
    } catch (const std::exception& e) {
      spdlog::error(
          "cannot thaw {} after a snapshot; writes to it stay blocked until `fsfreeze -u {}` "
          "succeeds: {}",
          mount_point_, mount_point_, e.what());
    }
  }
  FrozenFilesystem(const FrozenFilesystem&) = delete;
  FrozenFilesystem& operator=(const FrozenFilesystem&) = delete;

 private:
  Host& host_;
  std::string mount_point_;
};

}  // namespace

Engine::SnapshotTarget Engine::FindSnapshotTarget(const std::string& name,
                                                  const std::string& snap) {
  auto [record, backend] = FindOrThrow(name);
  SnapshotStore& snapshots = SnapshotsOf(*backend, record);
  snapshots.ValidateSnapshotName(snap);
  return {std::move(record), backend, &snapshots};
}

void Engine::CreateSnapshot(const std::string& name, const std::string& snap,
                            const ProgressFn& progress) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "create snapshot", BusyWait());
  auto target = FindSnapshotTarget(name, snap);
  auto state = states_.Load(name);
  if (state && !state->read_only && host_->IsMountPoint(state->mount_path) &&
      !state->attachment.device.empty()) {
    // Frozen, the filesystem is consistent on the device: no half-written journal in the
    // snapshot. A signal now would leave every writer on this host stuck, so none gets in.
    ScopedSignalBlock no_signals;
    FrozenFilesystem frozen(*host_, state->mount_path);
    target.snapshots->CreateSnapshot(target.record, snap, progress);
    spdlog::info("snapshot {}@{} taken with {} frozen", name, snap, state->mount_path);
    return;
  }
  target.snapshots->CreateSnapshot(target.record, snap, progress);
  spdlog::info("snapshot {}@{} taken", name, snap);
}

std::vector<SnapshotInfo> Engine::ListSnapshots(const std::string& name) {
  ValidateVolumeName(name);
  auto found = FindOrThrow(name);
  return SnapshotsOf(*found.second, found.first).ListSnapshots(found.first);
}

void Engine::RemoveSnapshot(const std::string& name, const std::string& snap) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "remove snapshot", BusyWait());
  auto target = FindSnapshotTarget(name, snap);
  target.snapshots->RemoveSnapshot(target.record, snap);
  spdlog::info("snapshot {}@{} removed", name, snap);
}

void Engine::Rollback(const std::string& name, const std::string& snap,
                      const ProgressFn& progress) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "rollback", BusyWait());
  auto [record, backend, snapshots] = FindSnapshotTarget(name, snap);
  ReleaseUnused(*backend, record);
  if (auto state = states_.Load(name)) {
    throw Error(ErrorCode::kBusy,
                "volume " + name + " is attached on this host (" + config_.host_id + ")" +
                    (state->mount_path.empty() ? "" : " at " + state->mount_path) +
                    "; stop everything using it before rolling it back");
  }
  if (auto holders = HoldersOf(*backend, record); !holders.empty()) {
    throw Error(ErrorCode::kBusy,
                "volume " + name + " is attached read-write on host " +
                    (holders[0].host_id.empty() ? "unknown" : holders[0].host_id) + " (" +
                    holders[0].client + " at " + holders[0].address +
                    "); stop it there before rolling it back");
  }
  if (auto watchers = backend->Watchers(record); !watchers.empty()) {
    throw Error(ErrorCode::kBusy, "volume " + name + " is in use by " + watchers[0] +
                                      " (mounted or mapped there); stop it there before "
                                      "rolling it back");
  }
  spdlog::warn("rolling volume {} back to snapshot {}", name, snap);
  snapshots->Rollback(record, snap, progress);
  spdlog::warn("volume {} rolled back to snapshot {}", name, snap);
}

void Engine::Clone(const std::string& name, const std::string& snap, const std::string& clone,
                   bool flatten, const ProgressFn& progress) {
  ValidateVolumeName(name);
  ValidateVolumeName(clone);
  VolumeLock lock(config_.state_dir, clone, "clone", BusyWait());
  auto [source, backend, snapshots] = FindSnapshotTarget(name, snap);
  VolumeRecord record;
  if (auto existing = Find(clone)) {
    // A clone interrupted after registering finishes here; anything else is a conflict.
    if (existing->first.cloned_from != name + "@" + snap) {
      throw Error(ErrorCode::kConflict, "volume " + clone + " already exists");
    }
    record = existing->first;
  } else {
    bool snapshot_found = false;
    for (const auto& s : snapshots->ListSnapshots(source)) {
      if (s.name == snap) {
        snapshot_found = true;
        record.spec = source.spec;
        record.spec.size_bytes = s.size;
      }
    }
    if (!snapshot_found) {
      throw Error(ErrorCode::kNotFound, "snapshot " + name + "@" + snap + " does not exist");
    }
    record.spec.name = clone;
    record.spec.image = clone;   // RBD
    record.spec.subdir = clone;  // NFS
    record.spec.adopted = false;
    record.created_at = NowRfc3339();
    record.created_by = config_.host_id;
    // The snapshot holds the source's filesystem: the clone is formatted, never to be again.
    record.formatted_at = source.formatted_at;
    record.formatted_by = source.formatted_by;
    record.cloned_from = name + "@" + snap;
    backend->CheckNewStorage(record, true);
    if (!backend->RegisterNew(record)) {
      throw Error(ErrorCode::kConflict, "volume " + clone + " was created meanwhile");
    }
  }
  snapshots->Clone(source, snap, record, flatten, progress);
  spdlog::info("volume {} cloned from {}@{}{}", clone, name, snap, flatten ? ", flattened" : "");
}

Engine::LockState Engine::Locks(const std::string& name) {
  ValidateVolumeName(name);
  auto found = FindOrThrow(name);
  return {HoldersOf(*found.second, found.first), found.second->Watchers(found.first)};
}

std::vector<HolderInfo> Engine::BreakLock(const std::string& name, bool fence,
                                          const std::optional<std::vector<HolderInfo>>& expected) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "break lock", BusyWait());
  auto found = FindOrThrow(name);
  // A holder that only lingers gives the volume up when asked: then there is nothing to break.
  ReleaseUnused(*found.second, found.first);
  std::vector<HolderInfo> holders;
  for (const auto& holder : HoldersOf(*found.second, found.first)) {
    const bool confirmed =
        !expected || std::any_of(expected->begin(), expected->end(), [&](const HolderInfo& e) {
          return e.client == holder.client && e.address == holder.address;
        });
    if (confirmed) {
      holders.push_back(holder);
    } else {
      spdlog::warn("lock of volume {} is now held by {} at {}, not the holder confirmed; left",
                   name, holder.client, holder.address);
    }
  }
  for (const auto& holder : holders) {
    spdlog::warn("AUDIT: breaking the lock of volume {} held by host {} ({} at {}){}, by host {}",
                 name, holder.host_id.empty() ? "unknown" : holder.host_id, holder.client,
                 holder.address, fence ? " after fencing it" : " WITHOUT fencing", config_.host_id);
    LocksOf(*found.second, found.first).BreakLock(found.first, holder, fence);
  }
  return holders;
}

void Engine::ForgetHost(const std::string& host_id) {
  ValidateHostId(host_id);  // it names a file on each NFS export
  for (auto& [name, backend] : backends_) {
    backend->ForgetHost(host_id);
  }
  spdlog::warn("AUDIT: forgot the berth installation of host id {}, by host {}", host_id,
               config_.host_id);
}

void Engine::Resize(const std::string& name, uint64_t size) {
  GrowStorage(name, size);
  auto state = states_.Load(name);
  if (state && !state->read_only && host_->IsMountPoint(state->mount_path) &&
      !state->attachment.device.empty()) {
    GrowFilesystem(name);
  }
}

}  // namespace berth::engine
