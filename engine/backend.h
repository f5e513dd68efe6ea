// What the engine needs from a storage backend, split by capability. Every backend is a
// registry, a storage and an attacher; resizing, snapshots and locks are capabilities that a
// backend offers only when it has them, and the engine asks for them (see engine/capability.h)
// instead of calling and catching a refusal. Implementations adapt backends/ (which never
// include engine headers) to these interfaces: engine/rbd/ and engine/nfs/.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/attachment.h"
#include "engine/volume_record.h"

namespace berth::engine {

// Runs work elsewhere (a thread pool); see Engine::set_detach_executor.
using Executor = std::function<void(std::function<void()>)>;

struct AttachResult {
  Attachment attachment;
  bool mounted = false;  // the backend mounted it at the mount point itself (NFS)
};

struct SnapshotInfo {
  std::string name;
  uint64_t size = 0;        // the volume's size when it was taken
  uint64_t used_bytes = 0;  // bytes of data it holds
  int64_t created = 0;      // seconds since the epoch
  bool is_protected = false;
};

// Called with (done, total) during long operations (rollback, flatten, copies).
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// A tool on this host that a backend can use (a mapper, a mounter), for `berthctl health`.
struct HostTool {
  std::string kind;  // "mapper"
  std::string name;  // "krbd", "nbd", "fuse"
  bool available = false;
};

struct HolderInfo {
  std::string host_id;  // empty when the holder is not a berth host
  std::string client;
  std::string address;
};

// A host's answer to a request to release a volume it keeps attached (engine/linger.cc).
struct ReleaseAnswer {
  bool released = false;  // its attachment and lock there are gone now
  std::string detail;     // what it did, or why not ("in use by 2 container(s) on host a")
};
using ReleaseReply = std::function<void(const ReleaseAnswer&)>;
// Runs on a backend thread and must not block: it hands the work elsewhere and calls the reply
// once. `asker` names the host that asked, for the log.
using ReleaseHandler = std::function<void(const std::string& asker, ReleaseReply reply)>;

// The volumes a backend knows: one record per name, changed only by compare-and-set.
class VolumeRegistry {
 public:
  virtual ~VolumeRegistry() = default;
  // Records come back with `stored` set to the entry as read.
  virtual std::optional<VolumeRecord> Lookup(const std::string& name) = 0;
  virtual std::vector<VolumeRecord> List() = 0;
  // For reads that only report (dockerd's List, Get and Path), never for a decision: they may
  // answer from a copy in memory that lags another host's change by at most the backend's
  // bound, and shows this process's own changes at once. By default they read through.
  virtual std::optional<VolumeRecord> LookupCached(const std::string& name) { return Lookup(name); }
  // Shared, never changed once returned: a List of 1000 volumes copies none of them.
  virtual std::shared_ptr<const std::vector<VolumeRecord>> ListCached() {
    return std::make_shared<const std::vector<VolumeRecord>>(List());
  }
  // Registers a new volume by one atomic exclusive write: false, with nothing written, when the
  // name is registered already (another host won the race to create it). Sets `stored`.
  virtual bool RegisterNew(VolumeRecord& record) = 0;
  // Writes `updated` over the entry if it still is `read.stored` (a compare-and-set on the
  // version that was read); false, with nothing written, when it changed or went meanwhile.
  // Sets `updated.stored`.
  virtual bool UpdateRecord(const VolumeRecord& read, VolumeRecord& updated) = 0;
  // Removes the entry; when `record.stored` is set, only if the entry still is that (so an
  // undo never removes what another host wrote since).
  virtual void Unregister(const VolumeRecord& record) = 0;
  // Drops the record that `host_id` belongs to a berth installation, so that another
  // installation may use that host id (the operator's word that the old one is gone).
  virtual void ForgetHost(const std::string& host_id) = 0;
};

// The storage behind each volume: an RBD image, an NFS directory.
class VolumeStorage {
 public:
  virtual ~VolumeStorage() = default;
  // Before a new volume is registered: its storage must not exist yet, unless the volume
  // adopts existing storage, which then must exist; an adopted volume takes the storage's
  // real size unless `size_given`, and a given size that differs is kConflict. Writes nothing.
  virtual void CheckNewStorage(VolumeRecord& record, bool size_given) = 0;
  // Creates the storage if missing (idempotent, so a Create interrupted after Register
  // completes on retry). An adopted volume's storage must already exist.
  virtual void EnsureStorage(const VolumeRecord& record) = 0;
  // Deletes the storage (never an adopted image). Refuses while it is in use.
  virtual void DeleteStorage(const VolumeRecord& record) = 0;
};

// Making a volume usable on this host, and undoing that.
class VolumeAttacher {
 public:
  virtual ~VolumeAttacher() = default;
  // Block backends take the single-writer lock (unless read-only) and map the storage to a
  // block device; file backends mount it at `mount_point` themselves.
  virtual AttachResult Attach(const VolumeRecord& record, bool read_only,
                              const std::string& work_dir, const std::string& mount_point) = 0;
  // Unmaps and releases the lock. Idempotent.
  virtual void Detach(const VolumeRecord& record, const Attachment& attachment) = 0;
  // Undoes an Attach whose process died before it could record the attachment: releases
  // whatever it may have mapped for this volume under `work_dir`, and this host's lock unless
  // `read_only`. The engine has already unmounted `mount_point`. Idempotent.
  virtual void UndoAttach(const VolumeRecord& record, bool read_only,
                          const std::string& work_dir) = 0;
  // Whether the mapper or mounter behind `attachment` still serves it.
  virtual bool AttachmentHealthy(const Attachment& attachment, const std::string& mount_point) = 0;
  // The clients or hosts that have the storage attached anywhere, for refusals.
  virtual std::vector<std::string> Watchers(const VolumeRecord& record) = 0;
};

// Storage with a size of its own, which grows (never shrinks).
class StorageResizer {
 public:
  virtual ~StorageResizer() = default;
  // Grows the storage to `size` bytes; a smaller size is kInvalidArgument.
  virtual void Grow(const VolumeRecord& record, uint64_t size) = 0;
  // Makes this host's attachment show the storage's new size.
  virtual void RefreshAttachment(const VolumeRecord& record, const Attachment& attachment,
                                 uint64_t size) = 0;
};

// Snapshots, rollback and clones. The engine has already checked the snapshot name with
// ValidateSnapshotName and that nothing is attached where it must not be.
class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  // kInvalidArgument, saying what is allowed, for a name this backend cannot store.
  virtual void ValidateSnapshotName(const std::string& snap) const = 0;
  virtual void CreateSnapshot(const VolumeRecord& record, const std::string& snap,
                              const ProgressFn& progress) = 0;
  virtual std::vector<SnapshotInfo> ListSnapshots(const VolumeRecord& record) = 0;
  virtual void RemoveSnapshot(const VolumeRecord& record, const std::string& snap) = 0;
  virtual void Rollback(const VolumeRecord& record, const std::string& snap,
                        const ProgressFn& progress) = 0;
  // Makes `clone`'s storage from record@snap (the clone is already registered).
  virtual void Clone(const VolumeRecord& record, const std::string& snap, const VolumeRecord& clone,
                     bool flatten, const ProgressFn& progress) = 0;
};

// A single-writer lock per volume, held by the host that attached it read-write.
class LockAuthority {
 public:
  virtual ~LockAuthority() = default;
  // The hosts holding the volume read-write, from the cluster's point of view.
  virtual std::vector<HolderInfo> Holders(const VolumeRecord& record) = 0;
  // The same, for reports only: a backend may answer from a copy kept coherent within a stated
  // bound (engine/holders_cache.h). Reads through by default.
  virtual std::vector<HolderInfo> HoldersCached(const VolumeRecord& record) {
    return Holders(record);
  }
  // Breaks `holder`'s lock; with `fence`, first blocklists its client so a frozen or partitioned
  // holder can never write again.
  virtual void BreakLock(const VolumeRecord& record, const HolderInfo& holder, bool fence) = 0;
  // How often this process found its cluster client fenced (blocklisted) and replaced it.
  virtual uint64_t FencedClientsReplaced() const = 0;
  // Release requests, for a volume this host keeps attached without using it (a linger):
  // another host that needs it asks, this one answers at once instead of being waited out.
  // Serving a volume that is served already does nothing. The attachment (this host's, as the
  // backend made it) names the storage, so serving needs no registry read.
  virtual void ServeReleaseRequests(const std::string& volume, const Attachment& attachment,
                                    ReleaseHandler handler) = 0;
  virtual void StopServingReleaseRequests(const std::string& volume) = 0;
  // Asks whoever serves release requests for the volume, and waits (briefly) for the answers;
  // none when nobody serves them. Attach asks on its own before it refuses a held lock.
  virtual std::vector<ReleaseAnswer> AskHoldersToRelease(const VolumeRecord& record) = 0;
};

class Backend : public VolumeRegistry, public VolumeStorage, public VolumeAttacher {
 public:
  // The optional capabilities: null when this backend does not have it.
  virtual StorageResizer* resizer() { return nullptr; }
  virtual SnapshotStore* snapshots() { return nullptr; }
  virtual LockAuthority* locks() { return nullptr; }
  // The tools of this host the backend chooses from.
  virtual std::vector<HostTool> HostTools() { return {}; }
  // The host-side files this backend may leave under `attach_dir` when a process dies (key
  // files of mappers starting), removed when the engine starts. Nothing by default.
  virtual void SweepAttachDir(const std::string& /*attach_dir*/) {}
  // In a long-lived process: work the backend may do ahead of need, off the request path (a
  // Ceph client connected for the next lock). Nothing by default.
  // NOLINTNEXTLINE(performance-unnecessary-value-param): a sink; overrides keep it by move.
  virtual void set_background_executor(Executor /*executor*/) {}
};

}  // namespace berth::engine
