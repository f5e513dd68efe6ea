// Volumes coming and going: Create (registry entry first, then storage), EnsureVolume (the
// use-or-create of the doors without a create call, under the one adopt policy) and Remove.
#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/fault.h"
#include "common/strings.h"
#include "common/undo.h"
#include "engine/capability.h"
#include "engine/volume_lock.h"
#include "engine/volume_spec.h"

namespace berth::engine {

VolumeRecord Engine::Create(const std::string& name, const Options& options) {
  VolumeSpec spec = ParseVolumeSpec(name, options, config_);
  Backend& backend = BackendFor(spec.backend);
  VolumeLock lock(config_.state_dir, name, "create", BusyWait());

  // Decided by one exclusive write: of two hosts creating one name at once, one registers and
  // the other finds the winner's entry on its second pass and treats it as a repeated Create.
  VolumeRecord record;
  for (int pass = 0;; ++pass) {
    if (auto existing = Find(name)) {
      auto diffs = SpecDifferences(existing->first.spec, options, spec);
      if (!diffs.empty()) {
        throw Error(
            ErrorCode::kConflict,
            "volume " + name + " already exists with a different spec: " + Join(diffs, "; "));
      }
      // A Create that died after registering finishes here.
      existing->second->EnsureStorage(existing->first);
      return existing->first;
    }
    if (pass > 0) {
      throw Error(ErrorCode::kUnavailable,
                  "volume " + name + " was registered and removed again meanwhile; retry");
    }
    record = VolumeRecord{};
    record.spec = spec;
    record.created_at = NowRfc3339();
    record.created_by = config_.host_id;
    backend.CheckNewStorage(record, options.contains("size"));
    ValidateFilesystemSize(record.spec);
    if (!backend.RegisterNew(record)) {
      continue;
    }
    FaultPoint("create.registered");
    {
      UndoOnFailure undo("create of volume " + name);
      undo.Add([&] { backend.Unregister(record); });  // only our entry, as we wrote it
      backend.EnsureStorage(record);
    }
    break;
  }
  FaultPoint("create.storage");
  spdlog::info("created volume {} ({} {} on {})", name, FormatSize(spec.size_bytes), spec.fstype,
               spec.backend);
  return record;
}

void Engine::EnsureVolume(const std::string& name, const Options& options, bool create_if_missing) {
  ValidateVolumeName(name);
  const auto backend_option = options.find("backend");
  const std::string backend_name =
      backend_option != options.end() ? backend_option->second : config_.default_backend;
  if (auto found = Find(name)) {
    if (found->first.spec.backend != backend_name) {
      throw Error(ErrorCode::kConflict, "volume " + name + " lives on backend " +
                                            found->first.spec.backend + ", not " + backend_name +
                                            "; use its driver or set option backend");
    }
    return;
  }
  // Only storage that the options name is ever adopted (ParseVolumeSpec refuses `image` where
  // a backend type has no images).
  const auto image = options.find("image");
  if (image != options.end()) {
    Options adopt = options;
    adopt.erase("size");  // an adopted image keeps its own size and layout
    adopt.erase("features");
    adopt.erase("object_size");
    try {
      Create(name, adopt);
      spdlog::info("volume {}: adopted image {}, as its options name it", name, image->second);
      return;
    } catch (const Error& e) {
      // A new image can only be made under the volume's own name.
      if (e.code() != ErrorCode::kNotFound || image->second != name) {
        throw;
      }
    }
  }
  if (!create_if_missing) {
    throw Error(ErrorCode::kNotFound, "volume " + name + " does not exist");
  }
  Options fresh = options;
  fresh.erase("image");  // named like the volume, and missing: made new
  Create(name, fresh);
}

void Engine::Remove(const std::string& name) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name, "remove", BusyWait());
  auto found = FindOrThrow(name);
  VolumeRecord& record = found.first;
  Backend* backend = found.second;
  ReleaseUnused(*backend, record);
  auto local = states_.Load(name);
  if (local && local->TotalRefs() > 0) {
    throw Error(ErrorCode::kBusy, "volume " + name + " is mounted on this host (" +
                                      config_.host_id + ") at " + local->mount_path + " with " +
                                      std::to_string(local->TotalRefs()) +
                                      " reference(s); stop the containers using it first");
  }
  if (local && local->staged) {
    throw Error(ErrorCode::kBusy,
                "volume " + name + " is attached on this host (" + config_.host_id +
                    ") for Kubernetes" +
                    (local->mount_path.empty() ? std::string() : " at " + local->mount_path) +
                    "; delete the pod using it first");
  }
  if (local) {
    // This host's attachment without references: a detach still pending after the last
    // Unmount, or one a crash left behind. Finish it so our own lock does not block removal.
    TearDown(*backend, record, *local);
  }
  if (const auto holders = HoldersOf(*backend, record); !holders.empty()) {
    const auto& holder = holders.front();
    throw Error(ErrorCode::kBusy, "volume " + name + " is attached on host " +
                                      (holder.host_id.empty() ? "unknown" : holder.host_id) + " (" +
                                      holder.client + " at " + holder.address +
                                      "); stop it there first");
  }
  backend->DeleteStorage(record);
  FaultPoint("remove.storage_deleted");
  record.stored.clear();  // the storage is gone: the entry goes whatever changed in it
  backend->Unregister(record);
  spdlog::info("removed volume {}", name);
}

}  // namespace berth::engine
