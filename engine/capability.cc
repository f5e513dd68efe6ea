#include "engine/capability.h"

#include "common/error.h"

namespace berth::engine {

namespace {

Error Lacks(const VolumeRecord& record, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, "volume " + record.spec.name + " is on backend '" +
                                                record.spec.backend + "', " + what);
}

}  // namespace

StorageResizer& ResizerOf(Backend& backend, const VolumeRecord& record) {
  if (auto* resizer = backend.resizer()) {
    return *resizer;
  }
  throw Lacks(record,
              "whose storage has no size of its own to grow (the free space of the export or "
              "pool is what it can use)");
}

SnapshotStore& SnapshotsOf(Backend& backend, const VolumeRecord& record) {
  if (auto* snapshots = backend.snapshots()) {
    return *snapshots;
  }
  throw Lacks(record, "which keeps no snapshots");
}

LockAuthority& LocksOf(Backend& backend, const VolumeRecord& record) {
  if (auto* locks = backend.locks()) {
    return *locks;
  }
  throw Lacks(record,
              "which berth does not lock: its volumes are shared, read and written by many hosts "
              "at once");
}

std::vector<HolderInfo> HoldersOf(Backend& backend, const VolumeRecord& record) {
  auto* locks = backend.locks();
  return locks ? locks->Holders(record) : std::vector<HolderInfo>{};
}

std::vector<HolderInfo> CachedHoldersOf(Backend& backend, const VolumeRecord& record) {
  auto* locks = backend.locks();
  return locks ? locks->HoldersCached(record) : std::vector<HolderInfo>{};
}

}  // namespace berth::engine
