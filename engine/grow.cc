// Growing a volume: its storage first, then its filesystem, online where the kernel allows and
// otherwise before the next mount (grow_pending).
#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "engine/capability.h"
#include "engine/record_update.h"
#include "engine/volume_lock.h"
#include "engine/volume_spec.h"

namespace berth::engine {

uint64_t Engine::GrowStorage(const std::string& name, uint64_t size) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "grow storage", BusyWait());
  auto found = FindOrThrow(name);
  VolumeRecord& record = found.first;
  Backend* backend = found.second;
  if (size < record.spec.size_bytes) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + name + " is " + FormatSize(record.spec.size_bytes) +
                    "; shrinking it to " + FormatSize(size) +
                    " would destroy data, and berth never shrinks a volume");
  }
  if (size > kMaxVolumeBytes) {
    throw Error(ErrorCode::kInvalidArgument,
                "size " + std::to_string(size) + " bytes is over the 1 PiB limit");
  }
  StorageResizer& resizer = ResizerOf(*backend, record);
  resizer.Grow(record, size);
  if (record.spec.size_bytes != size) {
    ChangeRecord(*backend, record, [size](VolumeRecord& r) {
      r.spec.size_bytes = std::max(r.spec.size_bytes, size);
    });
  }
  if (auto state = states_.Load(name); state && !state->attachment.empty()) {
    resizer.RefreshAttachment(record, state->attachment, size);
  }
  spdlog::info("volume {}: storage grown to {}", name, FormatSize(size));
  return size;
}

void Engine::GrowFilesystem(const std::string& name) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "grow filesystem", BusyWait());
  auto found = FindOrThrow(name);
  const VolumeRecord& record = found.first;
  auto state = states_.Load(name);
  if (record.spec.block) {
    // No filesystem to grow: the device this host maps follows the storage's new size.
    if (state && !state->attachment.empty()) {
      ResizerOf(*found.second, record)
          .RefreshAttachment(record, state->attachment, record.spec.size_bytes);
    }
    return;
  }
  if (!state || !host_->IsMountPoint(state->mount_path)) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + name + " is not mounted on this host; its filesystem grows when " +
                    "it is mounted here");
  }
  if (state->read_only) {
    throw Error(ErrorCode::kInvalidArgument,
                "volume " + name + " is mounted read-only here; grow it where it is read-write");
  }
  Backend* backend = found.second;
  StorageResizer& resizer = ResizerOf(*backend, record);
  const std::string device = state->attachment.device;
  // The storage may have grown on another host (Kubernetes grows it from the controller).
  VolumeRecord updated = record;
  resizer.RefreshAttachment(record, state->attachment, record.spec.size_bytes);
  if (host_->GrowFilesystem(record.spec.fstype, device, state->mount_path) ==
      fsutil::GrowOutcome::kGrown) {
    if (updated.grow_pending) {
      ChangeRecord(*backend, updated, [](VolumeRecord& r) { r.grow_pending = false; });
    }
    return;
  }
  ChangeRecord(*backend, updated, [](VolumeRecord& r) { r.grow_pending = true; });
  throw Error(ErrorCode::kPermissionDenied,
              "volume " + name + "'s storage is " + FormatSize(record.spec.size_bytes) +
                  ", but the kernel refused to grow its mounted " + record.spec.fstype +
                  " filesystem (resize2fs needs CAP_SYS_RESOURCE, which this host withholds); "
                  "it grows before its next mount");
}

}  // namespace berth::engine
