#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "engine/nfs_backend.h"
#include "engine/rbd_backend.h"
#include "engine/volume_lock.h"
#include "fsutil/format_and_mount.h"
#include "fsutil/mount.h"
#include "fsutil/mountinfo.h"

namespace berth::engine {

namespace {

std::map<std::string, std::unique_ptr<Backend>> MakeBackends(const Config& config) {
  std::map<std::string, std::unique_ptr<Backend>> backends;
  for (const auto& [name, backend] : config.backends) {
    if (backend.type == "rbd") {
      backends[name] = std::make_unique<RbdBackend>(ParseRbdSettings(backend), config.host_id);
    } else if (backend.type == "nfs") {
      backends[name] = std::make_unique<NfsBackend>(ParseNfsSettings(backend));
    } else {
      throw Error(ErrorCode::kInvalidArgument,
                  "backend '" + name + "' has unknown type '" + backend.type + "'; use rbd or nfs");
    }
  }
  return backends;
}

bool MountPresent(const std::string& mount_path) {
  return !mount_path.empty() && fsutil::FindMount(fsutil::ReadMountInfo(), mount_path).has_value();
}

}  // namespace

Engine::Engine(const Config& config) : Engine(config, MakeBackends(config)) {}

Engine::Engine(Config config, std::map<std::string, std::unique_ptr<Backend>> backends)
    : config_(std::move(config)), backends_(std::move(backends)), states_(config_.state_dir) {
  MakeDirectories(config_.mount_root, 0755);
}

Backend& Engine::BackendFor(const std::string& backend_name) {
  auto it = backends_.find(backend_name);
  if (it == backends_.end()) {
    throw Error(ErrorCode::kInvalidArgument, "unknown backend '" + backend_name + "'");
  }
  return *it->second;
}

std::string Engine::MountPath(const std::string& name) const {
  return config_.mount_root + "/" + name;
}

std::string Engine::WorkDir(const std::string& name) const {
  return config_.state_dir + "/attach/" + name;
}

std::optional<std::pair<VolumeRecord, Backend*>> Engine::Find(const std::string& name) {
  // The default backend first: most volumes live there, and asking it first keeps the others
  // (perhaps a slow NFS server) off the common path.
  std::vector<std::pair<const std::string*, Backend*>> order;
  order.emplace_back(&config_.default_backend, &BackendFor(config_.default_backend));
  for (auto& [backend_name, backend] : backends_) {
    if (backend_name != config_.default_backend) {
      order.emplace_back(&backend_name, backend.get());
    }
  }
  std::optional<Error> unavailable;
  for (auto& [backend_name, backend] : order) {
    try {
      if (auto record = backend->Lookup(name)) {
        return std::make_pair(*record, backend);
      }
    } catch (const Error& e) {
      // One backend being down must not make the others' volumes unreachable.
      if (e.code() != ErrorCode::kUnavailable) {
        throw;
      }
      spdlog::warn("backend {} is unavailable while looking up {}: {}", *backend_name, name,
                   e.what());
      unavailable = e;
    }
  }
  if (unavailable) {
    throw Error(ErrorCode::kUnavailable, "volume " + name +
                                             " was not found, and a backend could not be "
                                             "asked: " +
                                             unavailable->what());
  }
  return std::nullopt;
}

void Engine::Create(const std::string& name, const Options& options) {
  VolumeSpec spec = ParseVolumeSpec(name, options, config_);
  Backend& backend = BackendFor(spec.backend);
  VolumeLock lock(config_.state_dir, name);

  if (auto existing = Find(name)) {
    auto diffs = SpecDifferences(existing->first.spec, options, spec);
    if (!diffs.empty()) {
      std::string joined;
      for (const auto& d : diffs) {
        joined += (joined.empty() ? "" : "; ") + d;
      }
      throw Error(ErrorCode::kConflict, "volume " + name +
                                            " already exists with a different "
                                            "spec: " +
                                            joined);
    }
    // A Create that died after registering finishes here.
    existing->second->EnsureStorage(existing->first);
    return;
  }
  VolumeRecord record{spec, NowRfc3339(), config_.host_id, "", ""};
  backend.CheckNewStorage(record, options.contains("size"));
  ValidateFilesystemSize(record.spec);
  backend.Register(record);
  try {
    backend.EnsureStorage(record);
  } catch (...) {
    backend.Unregister(name);
    throw;
  }
  spdlog::info("created volume {} ({} {} on {})", name, FormatSize(spec.size_bytes), spec.fstype,
               spec.backend);
}

void Engine::Remove(const std::string& name) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name);
  auto found = Find(name);
  if (!found) {
    throw Error(ErrorCode::kNotFound, "volume " + name + " does not exist");
  }
  VolumeRecord& record = found->first;
  Backend* backend = found->second;
  auto local = states_.Load(name);
  if (local && local->TotalRefs() > 0) {
    throw Error(ErrorCode::kBusy, "volume " + name + " is mounted on this host (" +
                                      config_.host_id + ") at " + local->mount_path + " with " +
                                      std::to_string(local->TotalRefs()) +
                                      " reference(s); stop the containers using it first");
  }
  if (local) {
    // This host's attachment without references: a detach still pending after the last
    // Unmount, or one a crash left behind. Finish it so our own lock does not block removal.
    TearDown(*backend, record, *local);
  }
  if (const auto holders = backend->Holders(record); !holders.empty()) {
    const auto& holder = holders.front();
    throw Error(ErrorCode::kBusy, "volume " + name + " is attached on host " +
                                      (holder.host_id.empty() ? "unknown" : holder.host_id) + " (" +
                                      holder.client + " at " + holder.address +
                                      "); stop it there first");
  }
  backend->DeleteStorage(record);
  backend->Unregister(name);
  spdlog::info("removed volume {}", name);
}

MountResult Engine::Mount(const std::string& name, const std::string& ref_id, bool read_only) {
  ValidateVolumeName(name);
  if (ref_id.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "mount of volume " + name + " needs a reference id");
  }
  VolumeLock lock(config_.state_dir, name);
  // Logged under the volume lock, so overlapping begin/end pairs in the log show real
  // parallelism across volumes.
  spdlog::info("mount {} ({}) begins", name, ref_id);
  auto found = Find(name);
  if (!found) {
    throw Error(ErrorCode::kNotFound, "volume " + name + " does not exist");
  }
  VolumeRecord& record = found->first;
  Backend* backend = found->second;

  if (auto state = states_.Load(name)) {
    if (MountPresent(state->mount_path) &&
        backend->AttachmentHealthy(state->attachment, state->mount_path)) {
      if (state->read_only && !read_only && !record.spec.read_only) {
        throw Error(ErrorCode::kConflict,
                    "volume " + name + " is mounted read-only on this host; unmount its " +
                        std::to_string(state->TotalRefs()) +
                        " read-only reference(s) before mounting it read-write");
      }
      state->AddRef(ref_id);
      states_.Save(*state);
      spdlog::info("mount {} ({}) ends: already mounted, {} reference(s)", name, ref_id,
                   state->TotalRefs());
      return {state->mount_path, false};
    }
    if (state->detach_pending) {
      spdlog::info("volume {}: finishing the pending detach before mounting again", name);
    } else {
      // The mount or the mapping is gone (host reboot, killed mapper): start over cleanly.
      spdlog::warn("volume {} has a stale attachment; cleaning it up before mounting", name);
    }
    TearDown(*backend, record, *state);
  }

  read_only = read_only || record.spec.read_only;
  if (MountPresent(MountPath(name))) {
    // Not ours (we hold no state for it), so a cleanup must never unmount it.
    throw Error(ErrorCode::kConflict, "something else is mounted at " + MountPath(name) +
                                          "; unmount it before mounting volume " + name);
  }
  const std::string work_dir = WorkDir(name);
  MakeDirectories(work_dir);
  Attachment attachment = backend->Attach(record, read_only, work_dir, MountPath(name));
  HostVolumeState state{name, record.spec.backend, read_only, attachment.state, "", {}};
  states_.Save(state);  // from here on, any process can detach it

  if (attachment.mounted) {
    state.mount_path = MountPath(name);
    state.AddRef(ref_id);
    states_.Save(state);
    spdlog::info("mount {} ({}) ends: mounted at {}", name, ref_id, state.mount_path);
    return {state.mount_path, false};
  }
  try {
    fsutil::FormatAndMountRequest request;
    request.volume = name;
    request.device = attachment.device;
    request.mount_point = MountPath(name);
    request.fstype = record.spec.fstype;
    request.mkfs_options = SplitWords(record.spec.mkfs_options);
    if (!record.spec.mount_options.empty()) {
      request.mount_options = Split(record.spec.mount_options, ',');
    }
    request.read_only = read_only;
    request.recorded_formatted = record.formatted();
    auto outcome = fsutil::FormatAndMount(request, [&] {
      record.formatted_at = NowRfc3339();
      record.formatted_by = config_.host_id;
      backend->Register(record);
    });
    state.mount_path = request.mount_point;
    state.AddRef(ref_id);
    states_.Save(state);
    spdlog::info("mount {} ({}) ends: mounted at {}{}", name, ref_id, state.mount_path,
                 outcome == fsutil::FormatOutcome::kFormattedNew ? " after formatting" : "");
    return {state.mount_path, outcome == fsutil::FormatOutcome::kFormattedNew};
  } catch (...) {
    try {
      TearDown(*backend, record, state);
    } catch (const std::exception& e) {
      spdlog::error("cleanup after a failed mount of {} failed too: {}", name, e.what());
    }
    throw;
  }
}

void Engine::TearDown(Backend& backend, const VolumeRecord& record, const HostVolumeState& state) {
  fsutil::Unmount(state.mount_path.empty() ? MountPath(record.spec.name) : state.mount_path);
  backend.Detach(record, state.attachment);
  states_.Erase(record.spec.name);
}

void Engine::Unmount(const std::string& name, const std::string& ref_id) {
  ValidateVolumeName(name);
  VolumeLock lock(config_.state_dir, name);
  auto state = states_.Load(name);
  if (!state) {
    spdlog::warn("unmount of {} ({}): volume is not mounted on this host; nothing to do", name,
                 ref_id);
    return;
  }
  if (!state->ReleaseRef(ref_id)) {
    spdlog::warn("unmount of {} ({}): unknown reference; {} reference(s) remain", name, ref_id,
                 state->TotalRefs());
    return;
  }
  if (state->TotalRefs() > 0) {
    states_.Save(*state);
    spdlog::info("unmount {} ({}): {} reference(s) remain", name, ref_id, state->TotalRefs());
    return;
  }
  if (detach_executor_) {
    fsutil::Unmount(state->mount_path);
    state->mount_path.clear();
    state->detach_pending = true;
    states_.Save(*state);
    spdlog::info("unmount {} ({}): unmounted; detaching in the background", name, ref_id);
    detach_executor_([this, name] { FinishDetach(name); });
    return;
  }
  auto found = Find(name);
  if (!found) {
    throw Error(ErrorCode::kNotFound,
                "volume " + name + " is mounted here but missing from the registry; unmount " +
                    state->mount_path + " by hand");
  }
  TearDown(*found->second, found->first, *state);
  spdlog::info("unmount {} ({}): unmounted and detached", name, ref_id);
}

void Engine::FinishDetach(const std::string& name) {
  try {
    VolumeLock lock(config_.state_dir, name);
    auto state = states_.Load(name);
    if (!state || (!state->detach_pending && state->TotalRefs() > 0)) {
      return;  // a Mount came first and already finished it
    }
    auto found = Find(name);
    if (!found) {
      spdlog::error("volume {} vanished from the registry; its device {} stays mapped", name,
                    state->attachment.value("device", "?"));
      return;
    }
    TearDown(*found->second, found->first, *state);
    spdlog::info("volume {}: detached", name);
  } catch (const std::exception& e) {
    spdlog::error(
        "background detach of volume {} failed: {}; the next mount or berthd start "
        "retries it",
        name, e.what());
  }
}

void Engine::FinishPendingDetaches() {
  for (const auto& name : states_.Names()) {
    auto state = states_.Load(name);
    // Pending detaches, and attachments a crash left without any reference.
    if (state && (state->detach_pending || state->TotalRefs() == 0)) {
      FinishDetach(name);
    }
  }
}

VolumeInfo Engine::Get(const std::string& name) {
  ValidateVolumeName(name);
  auto found = Find(name);
  if (!found) {
    throw Error(ErrorCode::kNotFound, "volume " + name + " does not exist");
  }
  return {found->first, states_.Load(name), found->second->Holders(found->first)};
}

std::vector<VolumeInfo> Engine::List() {
  std::vector<VolumeInfo> out;
  for (auto& [backend_name, backend] : backends_) {
    std::vector<VolumeRecord> records;
    try {
      records = backend->List();
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnavailable) {
        throw;
      }
      spdlog::warn("backend {} is unavailable; its volumes are not listed: {}", backend_name,
                   e.what());
    }
    for (auto& record : records) {
      auto local = states_.Load(record.spec.name);
      out.push_back({std::move(record), std::move(local), {}});
    }
  }
  return out;
}

}  // namespace berth::engine
