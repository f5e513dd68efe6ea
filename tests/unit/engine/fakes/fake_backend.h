// An in-memory backend for the engine's unit tests, after ceph-csi's fake RADOS: a registry with
// compare-and-set, storage, single-writer locks, attachments and snapshots, shared between the
// FakeBackends of several "hosts" through one FakeCluster. Capabilities can be switched off (an
// NFS-like backend), and any operation can be made to fail once (FailNext).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/strings.h"
#include "engine/backend.h"
#include "tests/unit/engine/fakes/fake_host.h"

namespace berth::engine::testing {

struct FakeCluster {
  std::map<std::string, std::string> registry;         // volume -> stored record text
  std::map<std::string, uint64_t> storage;             // image (or volume) -> size
  std::map<std::string, HolderInfo> locks;             // volume -> holder
  std::map<std::string, std::set<std::string>> users;  // volume -> "host device" attached
  std::map<std::string, std::vector<SnapshotInfo>> snapshots;
  std::set<std::string> dead_devices;  // their mapper died: AttachmentHealthy is false
  // volume -> (host serving its release requests, the handler): RADOS watch/notify in miniature.
  std::map<std::string, std::pair<std::string, ReleaseHandler>> release_handlers;
  std::function<void()> run_pending;  // runs the work a handler queued (the holder's executor)
  int next_device = 0;
};

struct FakeTraits {
  bool block = true;  // maps a device; false: mounts itself, like NFS
  bool locks = true;
  bool resizer = true;
  bool snapshots = true;
};

class FakeBackend : public Backend,
                    public StorageResizer,
                    public SnapshotStore,
                    public LockAuthority {
 public:
  FakeBackend(std::shared_ptr<FakeCluster> cluster, std::string host_id, FakeTraits traits,
              FakeHost* host)
      : cluster_(std::move(cluster)), host_id_(std::move(host_id)), traits_(traits), host_(host) {}

  // The next call of `op` ("attach", "map", "detach", "register", ...) throws `error`, once.
  void FailNext(const std::string& op, Error error) { faults_.insert_or_assign(op, error); }
  std::vector<std::string> calls;

  std::optional<VolumeRecord> Lookup(const std::string& name) override {
    Step("lookup");
    auto it = cluster_->registry.find(name);
    if (it == cluster_->registry.end()) {
      return std::nullopt;
    }
    auto record = RecordFromString(name, it->second);
    record.stored = it->second;
    return record;
  }
  std::vector<VolumeRecord> List() override {
    Step("list");
    std::vector<VolumeRecord> records;
    for (const auto& [name, text] : cluster_->registry) {
      records.push_back(RecordFromString(name, text));
      records.back().stored = text;
    }
    return records;
  }
  bool RegisterNew(VolumeRecord& record) override {
    Step("register");
    if (cluster_->registry.contains(record.spec.name)) {
      return false;
    }
    record.stored = RecordToString(record);
    cluster_->registry[record.spec.name] = record.stored;
    return true;
  }
  bool UpdateRecord(const VolumeRecord& read, VolumeRecord& updated) override {
    Step("update");
    auto it = cluster_->registry.find(read.spec.name);
    if (it == cluster_->registry.end() || it->second != read.stored) {
      return false;
    }
    updated.stored = RecordToString(updated);
    it->second = updated.stored;
    return true;
  }
  void Unregister(const VolumeRecord& record) override {
    Step("unregister");
    auto it = cluster_->registry.find(record.spec.name);
    if (it != cluster_->registry.end() && (record.stored.empty() || it->second == record.stored)) {
      cluster_->registry.erase(it);
    }
  }
  void ForgetHost(const std::string& host_id) override { Step("forget " + host_id); }

  void CheckNewStorage(VolumeRecord& record, bool /*size_given*/) override {
    Step("check-storage");
    const bool exists = cluster_->storage.contains(StorageOf(record));
    if (record.spec.adopted && !exists) {
      throw Error(ErrorCode::kNotFound, "storage " + StorageOf(record) + " does not exist");
    }
    if (!record.spec.adopted && exists) {
      throw Error(ErrorCode::kConflict, "storage " + StorageOf(record) + " already exists");
    }
  }
  void EnsureStorage(const VolumeRecord& record) override {
    Step("ensure-storage");
    if (!cluster_->storage.contains(StorageOf(record))) {
      cluster_->storage[StorageOf(record)] = record.spec.size_bytes;
    }
  }
  void DeleteStorage(const VolumeRecord& record) override {
    Step("delete-storage");
    if (!cluster_->snapshots[record.spec.name].empty()) {
      throw Error(ErrorCode::kBusy, "volume " + record.spec.name + " has snapshots");
    }
    if (!record.spec.adopted) {
      cluster_->storage.erase(StorageOf(record));
    }
  }

  AttachResult Attach(const VolumeRecord& record, bool read_only, const std::string& /*work_dir*/,
                      const std::string& mount_point) override {
    const std::string& name = record.spec.name;
    Step("attach");
    bool locked = false;
    if (!read_only && traits_.locks) {
      if (auto held = cluster_->locks.find(name);
          held != cluster_->locks.end() && held->second.host_id != host_id_) {
        // As RbdBackend: a holder that only lingers gives the volume up when asked.
        std::string answers;
        for (const auto& answer : AskHoldersToRelease(record)) {
          answers += answer.detail + ";";
        }
        if (auto still = cluster_->locks.find(name);
            still != cluster_->locks.end() && still->second.host_id != host_id_) {
          throw Error(ErrorCode::kBusy,
                      "volume " + name + " is locked by host " + still->second.host_id +
                          (answers.empty() ? "" : " (it answered: " + answers + ")"));
        }
      }
      cluster_->locks[name] = {host_id_, "client." + host_id_, "10.0.0.1:0/" + host_id_};
      locked = true;
    }
    Step("map");
    AttachResult result;
    result.attachment.backend = {{"locked", locked}};
    if (traits_.block) {
      result.attachment.device = "/dev/fake" + std::to_string(cluster_->next_device++);
    } else {
      result.attachment.backend["mounter"] = "fake";
      host_->mounts[mount_point] = "fake:/" + name;
      result.mounted = true;
    }
    cluster_->users[name].insert(host_id_ + " " + result.attachment.device);
    return result;
  }
  void Detach(const VolumeRecord& record, const Attachment& attachment) override {
    Step("detach");
    cluster_->users[record.spec.name].erase(host_id_ + " " + attachment.device);
    if (attachment.backend.value("locked", false)) {
      ReleaseOwnLock(record.spec.name);
    }
  }
  void UndoAttach(const VolumeRecord& record, bool read_only,
                  const std::string& /*work_dir*/) override {
    Step("undo-attach");
    auto& users = cluster_->users[record.spec.name];
    std::erase_if(users, [&](const std::string& u) { return u.starts_with(host_id_ + " "); });
    if (!read_only) {
      ReleaseOwnLock(record.spec.name);
    }
  }
  bool AttachmentHealthy(const Attachment& attachment,
                         const std::string& /*mount_point*/) override {
    return !attachment.empty() && !cluster_->dead_devices.contains(attachment.device);
  }
  std::vector<std::string> Watchers(const VolumeRecord& record) override {
    const auto& users = cluster_->users[record.spec.name];
    return {users.begin(), users.end()};
  }

  StorageResizer* resizer() override { return traits_.resizer ? this : nullptr; }
  SnapshotStore* snapshots() override { return traits_.snapshots ? this : nullptr; }
  LockAuthority* locks() override { return traits_.locks ? this : nullptr; }

  void Grow(const VolumeRecord& record, uint64_t size) override {
    Step("grow");
    cluster_->storage[StorageOf(record)] = size;
  }
  void RefreshAttachment(const VolumeRecord& /*record*/, const Attachment& attachment,
                         uint64_t /*size*/) override {
    Step("refresh " + attachment.device);
  }

  void ValidateSnapshotName(const std::string& snap) const override {
    if (!IsPortableName(snap, 64)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "snapshot name '" + Printable(snap) + "' is invalid");
    }
  }
  void CreateSnapshot(const VolumeRecord& record, const std::string& snap,
                      const ProgressFn& /*progress*/) override {
    Step("snapshot " + snap);
    cluster_->snapshots[record.spec.name].push_back({snap, record.spec.size_bytes, 0, 0, false});
  }
  std::vector<SnapshotInfo> ListSnapshots(const VolumeRecord& record) override {
    return cluster_->snapshots[record.spec.name];
  }
  void RemoveSnapshot(const VolumeRecord& record, const std::string& snap) override {
    Step("remove-snapshot " + snap);
    std::erase_if(cluster_->snapshots[record.spec.name],
                  [&](const SnapshotInfo& s) { return s.name == snap; });
  }
  void Rollback(const VolumeRecord& /*record*/, const std::string& snap,
                const ProgressFn& /*progress*/) override {
    Step("rollback " + snap);
  }
  void Clone(const VolumeRecord& /*record*/, const std::string& snap, const VolumeRecord& clone,
             bool /*flatten*/, const ProgressFn& /*progress*/) override {
    Step("clone " + snap);
    cluster_->storage[StorageOf(clone)] = clone.spec.size_bytes;
  }

  std::vector<HolderInfo> Holders(const VolumeRecord& record) override {
    auto it = cluster_->locks.find(record.spec.name);
    if (it == cluster_->locks.end()) {
      return {};
    }
    return {it->second};
  }
  void BreakLock(const VolumeRecord& record, const HolderInfo& holder, bool fence) override {
    Step(std::string(fence ? "fence-and-break " : "break ") + holder.host_id);
    cluster_->locks.erase(record.spec.name);
  }
  uint64_t FencedClientsReplaced() const override { return 0; }
  void ServeReleaseRequests(const std::string& volume, const Attachment& /*attachment*/,
                            ReleaseHandler handler) override {
    Step("serve " + volume);
    cluster_->release_handlers.try_emplace(volume, host_id_, std::move(handler));
  }
  void StopServingReleaseRequests(const std::string& volume) override {
    if (auto it = cluster_->release_handlers.find(volume);
        it != cluster_->release_handlers.end() && it->second.first == host_id_) {
      Step("stop serving " + volume);
      cluster_->release_handlers.erase(it);
    }
  }
  std::vector<ReleaseAnswer> AskHoldersToRelease(const VolumeRecord& record) override {
    Step("ask " + record.spec.name);
    std::vector<ReleaseAnswer> answers;
    auto it = cluster_->release_handlers.find(record.spec.name);
    if (it != cluster_->release_handlers.end()) {
      auto handler = it->second.second;  // the holder may stop serving while it answers
      handler(host_id_, [&answers](const ReleaseAnswer& answer) { answers.push_back(answer); });
      if (cluster_->run_pending) {
        cluster_->run_pending();
      }
    }
    return answers;
  }

 private:
  // An image's name (rbd-like), else the volume's.
  static std::string StorageOf(const VolumeRecord& record) {
    return record.spec.image.empty() ? record.spec.name : record.spec.image;
  }
  void Step(const std::string& op) {
    calls.push_back(op);
    if (auto fault = faults_.find(op); fault != faults_.end()) {
      Error error = fault->second;
      faults_.erase(fault);
      throw error;
    }
  }
  void ReleaseOwnLock(const std::string& name) {
    if (auto held = cluster_->locks.find(name);
        held != cluster_->locks.end() && held->second.host_id == host_id_) {
      cluster_->locks.erase(held);
    }
  }

  std::shared_ptr<FakeCluster> cluster_;
  std::string host_id_;
  FakeTraits traits_;
  FakeHost* host_;
  std::map<std::string, Error> faults_;
};

}  // namespace berth::engine::testing
