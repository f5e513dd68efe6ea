// The engine's questions to a volume's backend about its optional capabilities: a backend
// without one gets a clear refusal naming the volume and what its backend lacks.
#pragma once

#include <vector>

#include "engine/backend.h"

namespace berth::engine {

// kInvalidArgument when the volume's storage has no size of its own (an NFS directory).
StorageResizer& ResizerOf(Backend& backend, const VolumeRecord& record);
// kInvalidArgument when its backend keeps no snapshots.
SnapshotStore& SnapshotsOf(Backend& backend, const VolumeRecord& record);
// kInvalidArgument when its backend does not lock volumes (they are shared by every host).
LockAuthority& LocksOf(Backend& backend, const VolumeRecord& record);
// The hosts holding the volume read-write; none for a backend without locks.
std::vector<HolderInfo> HoldersOf(Backend& backend, const VolumeRecord& record);
// The same for reports (LockAuthority::HoldersCached).
std::vector<HolderInfo> CachedHoldersOf(Backend& backend, const VolumeRecord& record);

}  // namespace berth::engine
