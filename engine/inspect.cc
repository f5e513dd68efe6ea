// Finding volumes across backends, and Get and List: a backend that is down (or timed out) is
// skipped so the others stay reachable; any other failure is reported naming the backend.
#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "common/error.h"
#include "engine/capability.h"
#include "engine/volume_spec.h"

namespace berth::engine {

namespace {

// Lookups across backends skip a backend that may come back by itself (down, or not answering
// in time), so that one outage leaves the other backends' volumes reachable.
bool MayHeal(const Error& e) {
  return e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kDeadlineExceeded;
}

// A backend's failure that is not an outage, with the backend named; a refusal of berth's
// credentials also says what to check. The code and the errno stay.
Error NamingBackend(const std::string& backend_name, const Error& e) {
  if (e.code() != ErrorCode::kPermissionDenied) {
    return e;
  }
  return Error(e.code(),
               "backend " + backend_name + " refused berth's access: " + e.what() +
                   " (check the key and caps of its Ceph user, or the NFS export's permissions; "
                   "docs/operations.md lists what berth needs)",
               e.system_errno());
}

}  // namespace

std::optional<std::pair<VolumeRecord, Backend*>> Engine::Find(const std::string& name,
                                                              bool cached) {
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
      if (auto record = cached ? backend->LookupCached(name) : backend->Lookup(name)) {
        return std::make_pair(*record, backend);
      }
    } catch (const Error& e) {
      // One backend being down must not make the others' volumes unreachable.
      if (!MayHeal(e)) {
        throw NamingBackend(*backend_name, e);
      }
      spdlog::warn("backend {} is unavailable while looking up {}: {}", *backend_name, name,
                   e.what());
      unavailable = e;
    }
  }
  if (unavailable) {
    throw Error(ErrorCode::kUnavailable,
                "volume " + name +
                    " was not found, and a backend could not be asked: " + unavailable->what(),
                unavailable->system_errno());
  }
  return std::nullopt;
}

std::pair<VolumeRecord, Backend*> Engine::FindOrThrow(const std::string& name, bool cached) {
  auto found = Find(name, cached);
  if (!found) {
    throw Error(ErrorCode::kNotFound, "volume " + name + " does not exist");
  }
  return std::move(*found);
}

VolumeInfo Engine::Get(const std::string& name) {
  ValidateVolumeName(name);
  auto found = FindOrThrow(name);
  return {found.first, states_.Load(name), HoldersOf(*found.second, found.first)};
}

VolumeInfo Engine::GetCached(const std::string& name, Holders holders) {
  ValidateVolumeName(name);
  auto found = FindOrThrow(name, /*cached=*/true);
  auto local = states_.Load(name);
  if (holders == Holders::kSkip) {
    return {std::move(found.first), std::move(local), {}};
  }
  return {found.first, std::move(local), CachedHoldersOf(*found.second, found.first)};
}

std::optional<std::string> Engine::LocalProblem(const std::string& name) {
  ValidateVolumeName(name);
  const auto state = states_.Load(name);
  if (!state) {
    return "volume " + name + " is not attached on this host";
  }
  auto [record, backend] = FindOrThrow(name);
  const LiveFacts live = Observe(*backend, *state);
  if (!live.attachment_alive) {
    return "volume " + name + "'s attachment on this host is gone (its mapper or mounter " +
           "stopped, or the attach never finished); stop its users and stage it again";
  }
  if (!state->mount_path.empty() && !live.mounted) {
    return "volume " + name + " is no longer mounted at " + state->mount_path;
  }
  if (!state->read_only && backend->locks() != nullptr) {
    const auto holders = HoldersOf(*backend, record);
    const bool held = std::any_of(holders.begin(), holders.end(), [&](const HolderInfo& holder) {
      return holder.host_id == config_.host_id;
    });
    if (!held) {
      return "host " + config_.host_id + " no longer holds volume " + name +
             "'s lock (it was broken, or another host took the volume over); its writes here " +
             "may be refused";
    }
  }
  return std::nullopt;
}

std::vector<VolumeInfo> Engine::List() {
  std::vector<VolumeInfo> out;
  VisitFrom(/*cached=*/false,
            [&](const VolumeRecord& record, const std::optional<HostVolumeState>& local) {
              out.push_back({record, local, {}});
            });
  return out;
}

void Engine::VisitCached(const ListVisitor& visit) { VisitFrom(/*cached=*/true, visit); }

void Engine::VisitFrom(bool cached, const ListVisitor& visit) {
  // One directory read finds the volumes attached here; only their state files are read.
  const auto names = states_.Names();
  const std::set<std::string> attached(names.begin(), names.end());
  for (auto& [backend_name, backend] : backends_) {
    std::shared_ptr<const std::vector<VolumeRecord>> records;
    try {
      records = cached ? backend->ListCached()
                       : std::make_shared<const std::vector<VolumeRecord>>(backend->List());
    } catch (const Error& e) {
      if (!MayHeal(e)) {
        throw NamingBackend(backend_name, e);
      }
      spdlog::warn("backend {} is unavailable; its volumes are not listed: {}", backend_name,
                   e.what());
      continue;
    }
    for (const auto& record : *records) {
      visit(record,
            attached.contains(record.spec.name) ? states_.Load(record.spec.name) : std::nullopt);
    }
  }
}

AttachmentCounts Engine::CountAttachments() const {
  AttachmentCounts counts;
  for (const auto& [name, backend] : config_.backends) {
    counts.attached[name] = 0;
    counts.references[name] = 0;
  }
  for (const auto& name : states_.Names()) {
    std::optional<HostVolumeState> state;
    try {
      state = states_.Load(name);
    } catch (const std::exception& e) {
      // berthctl health reports it; a warning at every scrape would only flood the log.
      spdlog::debug("skipping the host state of {}: {}", name, e.what());
      continue;
    }
    // Erased between Names and Load (its detach finished), or of a backend since unconfigured.
    if (!state || !counts.attached.contains(state->backend)) {
      continue;
    }
    if (!state->attachment.empty()) {  // null or {} while an attach is under way
      ++counts.attached[state->backend];
    }
    counts.references[state->backend] += state->TotalRefs();
  }
  return counts;
}

std::optional<HostVolumeState> Engine::LocalState(const std::string& name) const {
  ValidateVolumeName(name);  // a name straight from a request becomes a path
  return states_.Load(name);
}

std::optional<std::string> Engine::LocalBackendOf(const std::string& name) const {
  ValidateVolumeName(name);  // a name straight from a request becomes a path
  if (auto state = states_.Load(name)) {
    return state->backend;
  }
  return std::nullopt;
}

}  // namespace berth::engine
