// The registry (a metadata file per volume on the export), the connection, and host ids.
#include "engine/nfs/nfs_backend.h"

#include <spdlog/spdlog.h>

#include <exception>

#include "common/error.h"
#include "common/strings.h"
#include "engine/instance_id.h"
#include "engine/nfs/export_layout.h"

namespace berth::engine {

NfsBackend::TreeLock::TreeLock(NfsBackend& backend)
    : backend_(backend), lock_(backend.mu_), exceptions_(std::uncaught_exceptions()) {}

NfsBackend::TreeLock::~TreeLock() {
  // A failed call may have left the context mid-RPC or disconnected: start the next one on a
  // fresh connection (a few ms) rather than reuse a broken one.
  if (std::uncaught_exceptions() > exceptions_) {
    backend_.broken_ = true;
  }
}

std::string NfsBackend::Url() const {
  std::string url = "nfs://" + settings_.server + settings_.export_path +
                    "?nfsport=" + std::to_string(settings_.nfs_port);
  if (settings_.mount_port > 0) {
    url += "&mountport=" + std::to_string(settings_.mount_port);
  }
  return url;
}

nfs::ExportTree& NfsBackend::Tree() {
  if (tree_ && broken_) {
    tree_.reset();  // reconnect after the server went away
  }
  broken_ = false;
  if (!tree_) {
    tree_ = std::make_unique<nfs::ExportTree>(
        nfs::NfsContext::Connect({Url(), std::chrono::milliseconds(settings_.timeout_ms)}));
  }
  return *tree_;
}

std::optional<VolumeRecord> NfsBackend::Lookup(const std::string& name) {
  TreeLock lock(*this);
  auto text = Tree().ReadFile(RecordPath(name));
  if (!text) {
    return std::nullopt;
  }
  auto record = RecordFromString(name, *text);
  record.stored = *text;
  return record;
}

std::vector<VolumeRecord> NfsBackend::List() {
  TreeLock lock(*this);
  return ListLocked();
}

std::vector<VolumeRecord> NfsBackend::ListLocked() {
  std::vector<VolumeRecord> records;
  if (!Tree().Exists(kRegistryDir)) {
    return records;
  }
  for (const auto& file : Tree().List(kRegistryDir)) {
    if (file.size() <= 5 || file.substr(file.size() - 5) != ".json") {
      continue;  // temp files of a write in progress
    }
    const std::string name = file.substr(0, file.size() - 5);
    try {
      if (auto text = Tree().ReadFile(std::string(kRegistryDir) + "/" + file)) {
        records.push_back(RecordFromString(name, *text));
        records.back().stored = *text;
      }
    } catch (const Error& e) {
      spdlog::warn("skipping NFS registry entry {}: {}", file, e.what());
    }
  }
  return records;
}

bool NfsBackend::RegistryCopyCurrent() {
  // Every create, rename and remove in the directory changes it: NFS writes registry entries by
  // exclusive create, rename of a temp file, and remove. Two changes in one timestamp tick of
  // the server could leave it equal; the copy's bound covers that.
  const auto stamp = Tree().ChangeStamp(kRegistryDir);
  const bool current = stamp && stamp == registry_stamp_ && registry_cache_.Fresh();
  if (!current) {
    registry_cache_.Invalidate();
    registry_stamp_ = stamp;  // taken before the read that may fill the copy
  }
  return current;
}

std::shared_ptr<const std::vector<VolumeRecord>> NfsBackend::ListCached() {
  if (settings_.registry_cache_seconds <= 0) {
    return std::make_shared<const std::vector<VolumeRecord>>(List());
  }
  TreeLock lock(*this);
  if (RegistryCopyCurrent()) {
    if (auto records = registry_cache_.List()) {
      return records;
    }
  }
  const uint64_t generation = registry_cache_.generation();
  auto records = ListLocked();
  if (registry_stamp_) {
    registry_cache_.Fill(generation, records);
  }
  return std::make_shared<const std::vector<VolumeRecord>>(std::move(records));
}

std::optional<VolumeRecord> NfsBackend::LookupCached(const std::string& name) {
  if (settings_.registry_cache_seconds > 0) {
    TreeLock lock(*this);
    if (RegistryCopyCurrent()) {
      if (auto record = registry_cache_.Lookup(name)) {
        return record;
      }
    }
  }
  // Changed, or a name the copy lacks: this entry alone is read (a List reads them all again).
  return Lookup(name);
}

bool NfsBackend::RegisterNew(VolumeRecord& record) {
  TreeLock lock(*this);
  Tree().MakeDirectories(kRegistryDir);
  const std::string text = RecordToString(record);
  if (!Tree().CreateFile(RecordPath(record.spec.name), text)) {
    return false;
  }
  record.stored = text;
  return true;
}

bool NfsBackend::UpdateRecord(const VolumeRecord& read, VolumeRecord& updated) {
  TreeLock lock(*this);
  // A version check, then a rename of this writer's own temp file. NFS has no compare-and-set,
  // so two updates within one round trip of each other can still race; entries change rarely
  // on NFS (no format ledger, no resize), and each update re-reads and re-applies its change.
  const auto current = Tree().ReadFile(RecordPath(read.spec.name));
  if (read.stored.empty() || !current || *current != read.stored) {
    return false;
  }
  const std::string text = RecordToString(updated);
  Tree().WriteFile(RecordPath(read.spec.name), text);
  updated.stored = text;
  return true;
}

void NfsBackend::Unregister(const VolumeRecord& record) {
  TreeLock lock(*this);
  const std::string path = RecordPath(record.spec.name);
  if (!record.stored.empty() && Tree().ReadFile(path) != record.stored) {
    spdlog::warn("volume {} changed in the registry meanwhile; its entry is left",
                 record.spec.name);
    return;
  }
  Tree().RemoveFile(path);
}

void NfsBackend::CheckHostClaim() {
  if (host_claimed_) {
    return;
  }
  const std::string path = HostClaimPath(host_id_);
  Tree().MakeDirectories("/.berth/hosts");
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (Tree().CreateFile(path, instance_id_ + "\n")) {
      host_claimed_ = true;
      return;
    }
    auto text = Tree().ReadFile(path);
    if (!text) {
      continue;  // forgotten between the two calls: claim it again
    }
    const std::string holder = Trim(*text);
    if (holder != instance_id_) {
      throw HostIdTakenError(host_id_, "on this NFS export", holder, instance_id_);
    }
    host_claimed_ = true;
    return;
  }
  throw Error(ErrorCode::kUnavailable,
              "the registration of host id " + host_id_ + " on the NFS export keeps changing");
}

void NfsBackend::ForgetHost(const std::string& host_id) {
  TreeLock lock(*this);
  Tree().RemoveFile(HostClaimPath(host_id));
  if (host_id == host_id_) {
    host_claimed_ = false;
  }
}

}  // namespace berth::engine
