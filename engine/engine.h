// The volume lifecycle behind every front door: create, remove, mount with references,
// unmount, inspect. Safe to call from many threads and many processes at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/config.h"
#include "engine/host.h"
#include "engine/host_state.h"
#include "engine/volume_spec.h"

namespace berth::engine {

struct MountResult {
  std::string mount_path;
  bool formatted = false;  // true only when this call made the filesystem
};

struct VolumeInfo {
  VolumeRecord record;
  std::optional<HostVolumeState> local;  // this host's attachment and references
  std::vector<HolderInfo> holders;       // hosts holding it read-write (Get only)
};

// This host's attachments and mount references, per configured backend (every one present).
struct AttachmentCounts {
  std::map<std::string, int> attached;
  std::map<std::string, int> references;
};

// Runs work once `delay` has passed (berthd's timers); see Engine::set_linger_scheduler.
using Scheduler = std::function<void(std::chrono::milliseconds delay, std::function<void()>)>;

// A cephx identity given for one call (a FlexVolume pod's secret) instead of the config's:
// used in memory only, never written to a file but a 0600 key file while a mapper starts.
struct Credentials {
  std::string user;
  std::string key;
};
// Per backend name.
using CredentialOverrides = std::map<std::string, Credentials>;

// One Backend per configured backend (they connect on first use), made by its type (see
// engine/backend_types.h); `credentials` replace a backend's own identity.
std::map<std::string, std::unique_ptr<Backend>> MakeBackends(
    const Config& config, const CredentialOverrides& credentials = {});

// Every backend's settings parsed and validated as MakeBackends would, with nothing created or
// written (berthd --check-config).
void ValidateBackends(const Config& config);

class Engine {
 public:
  explicit Engine(const Config& config, const CredentialOverrides& credentials = {});
  // Backends and host supplied by the caller (the engine's unit tests pass fakes), the
  // backends keyed like config.backends.
  Engine(Config config, std::map<std::string, std::unique_ptr<Backend>> backends,
         std::unique_ptr<Host> host);

  // Idempotent: an existing volume with the same options succeeds; different options are
  // kConflict naming each difference. Every option is validated before anything is written.
  // Returns the volume's record, as made or as it already was.
  VolumeRecord Create(const std::string& name, const Options& options);
  // Use-or-create, for the doors that have no create call of their own (FlexVolume, CSI's
  // idempotent CreateVolume). An existing volume is used as it is; it must be on the backend
  // the options name (kConflict otherwise). Under berth's one adopt policy, an RBD image that
  // no volume owns is adopted only when `image` names it, never for sharing the volume's name.
  // A named image that is missing is created when it is named like the volume. Otherwise the
  // volume is created when `create_if_missing`, else the answer is kNotFound.
  void EnsureVolume(const std::string& name, const Options& options, bool create_if_missing);
  // Refused (kBusy) while the volume is mounted on this host or locked by any host.
  void Remove(const std::string& name);
  // Attach, format if new (see fsutil/format_and_mount.h) and mount, or add a reference to an
  // existing mount. `ref_id` is Docker's mount ID or kubelet's target path. `read_only` asks
  // for a read-only attach (no lock, mounted ro) even if the volume is read-write; a volume
  // created read_only=true is always attached read-only.
  MountResult Mount(const std::string& name, const std::string& ref_id, bool read_only = false);
  // Drops one reference; the last one unmounts and detaches. An unknown volume or reference
  // is logged and ignored so a retrying caller never wedges.
  void Unmount(const std::string& name, const std::string& ref_id);

  // Kubernetes' node flow (berth-flex), in kubelet's order:
  // StageAttach maps the volume for this host (taking the lock unless read-only) and returns
  // the device. `alias` is kubelet's name for the volume, which its detach call uses.
  std::string StageAttach(const std::string& name, bool read_only, const std::string& alias);
  // Formats the device if new (the same safety as Mount) and mounts it at kubelet's global
  // `path`, attaching first if StageAttach did not run. Idempotent.
  MountResult StageMount(const std::string& name, const std::string& path, bool read_only);
  // Unmounts the volume staged at `path` and detaches it. Refused while pod directories are
  // still bind-mounted from it; an unknown path that is not mounted succeeds. Given a `volume`,
  // only that volume's staging is undone: a path mounted by anything else is refused.
  void Unstage(const std::string& path, const std::string& volume = {});
  // Detaches the volume kubelet knows as `alias` if it is still attached here but no longer
  // mounted (what kubelet's detach asks of this host); refused while it is mounted.
  void ReleaseAlias(const std::string& alias);
  // Bind-mounts the volume at `target` (a pod directory) as one reference named `target`. A
  // volume not staged here is mounted first, like Mount, and detached with its last
  // reference. With `fs_group`, a filesystem this host just made gets its root's group set to
  // it (setgid, group-writable) once; nothing is ever chowned recursively.
  MountResult Publish(const std::string& name, const std::string& target, bool read_only,
                      std::optional<unsigned> fs_group = std::nullopt);
  // Bind-mounts the raw device of a block volume (volume_mode=block) staged here by
  // StageAttach onto the file `target` (made if missing), as one reference named `target`. The
  // device is never probed, formatted or mounted. kConflict when it is not staged here.
  MountResult PublishBlock(const std::string& name, const std::string& target, bool read_only);
  // Unmounts `target` and drops its reference. Unknown targets are unmounted if mounted.
  void Unpublish(const std::string& target);

  // Grows the volume's storage to `size` bytes (a smaller size is kInvalidArgument), records
  // the new size, and refreshes this host's mapping. Returns the size.
  uint64_t GrowStorage(const std::string& name, uint64_t size);
  // Grows the filesystem of a volume mounted read-write on this host to fill its storage.
  void GrowFilesystem(const std::string& name);

  // Grows the volume and, when it is mounted read-write on this host, its filesystem (what
  // `berthctl volume resize` does). A shrink is kInvalidArgument.
  void Resize(const std::string& name, uint64_t size);

  // Snapshots (engine/snapshots.cc). A snapshot of a volume mounted read-write on this host is
  // taken with its filesystem frozen, and thawed whatever happens, with termination signals
  // held off meanwhile.
  void CreateSnapshot(const std::string& name, const std::string& snap,
                      const ProgressFn& progress = nullptr);
  std::vector<SnapshotInfo> ListSnapshots(const std::string& name);
  void RemoveSnapshot(const std::string& name, const std::string& snap);
  // Refused while the volume is attached anywhere: mounted or mapped on this host, locked by a
  // host, or open by any Ceph client.
  void Rollback(const std::string& name, const std::string& snap, const ProgressFn& progress);
  // Makes the new volume `clone` from name@snap: same spec and format ledger, its own image.
  void Clone(const std::string& name, const std::string& snap, const std::string& clone,
             bool flatten, const ProgressFn& progress);

  // The hosts holding the volume's lock, and every client that has it open.
  struct LockState {
    std::vector<HolderInfo> holders;
    std::vector<std::string> watchers;
  };
  LockState Locks(const std::string& name);
  // Breaks every holder's lock; with `fence`, blocklists the holder and its mapper clients
  // first, so a host that is only frozen or cut off can never write again. Returns the holders.
  // With `expected`, only holders matching one of them (client and address) are broken, so a
  // host that took the lock while the operator was confirming keeps it.
  std::vector<HolderInfo> BreakLock(
      const std::string& name, bool fence,
      const std::optional<std::vector<HolderInfo>>& expected = std::nullopt);

  // Forgets, in every backend, which berth installation `host_id` belongs to (see
  // engine/instance_id.h), for a host reinstalled with a new state dir.
  void ForgetHost(const std::string& host_id);

  // One finding of Health: what was checked, whether it is fine, and what --fix did.
  struct HealthCheck {
    std::string check;  // "backend rbd", "mapper fuse", "volume db", "orphan mount /x", ...
    bool ok = true;
    std::string detail;
    bool fixed = false;
  };
  // Checks the backends are reachable, which mappers this host has, and that this host's state
  // files, mounts, FUSE mappers and loop devices agree (engine/health.cc). With `fix`, cleans
  // up what it can prove unused: state whose mount and mapping are gone, and mounts, rbd-fuse
  // mounts and loop devices under berth's directories that no state file knows and nothing
  // holds (a busy unmount proves use, and is left).
  std::vector<HealthCheck> Health(bool fix);

  // Whether this host's attachment of the volume is sound: nullopt when it is, else what is
  // wrong (not attached here, its mapper or mounter is gone, its mount is gone, or it is
  // attached read-write and this host no longer holds its lock). No volume lock is taken.
  std::optional<std::string> LocalProblem(const std::string& name);

  // Each configured backend and whether its registry answers: the number of volumes it holds,
  // or the error that stopped the read.
  struct BackendCheck {
    bool ok = false;
    std::string detail;  // "3 volume(s) in its registry", or the error
  };
  std::map<std::string, BackendCheck> CheckBackends();

  // Per configured backend: how often this process found its cluster client fenced
  // (blocklisted) and replaced it with a new one (for metrics; 0 where that never happened).
  std::map<std::string, uint64_t> FencedClientsReplaced() const;
  // For metrics, from this host's state files alone (no backend call): what is attached here,
  // and the backend of a volume attached here (nullopt when it is not).
  AttachmentCounts CountAttachments() const;
  std::optional<std::string> LocalBackendOf(const std::string& name) const;
  // This host's state of the volume, from its state file alone (no backend call, no lock).
  std::optional<HostVolumeState> LocalState(const std::string& name) const;

  // With an executor, the last Unmount returns once the filesystem is unmounted and hands the
  // unmap and unlock to the executor, so callers (dockerd) are not kept waiting. Without one,
  // Unmount returns after the detach.
  // Backends may use it for work ahead of need (Backend::set_background_executor).
  void set_detach_executor(Executor executor);
  // With a scheduler and a detach executor (and config linger_seconds > 0), the last Unmount of
  // a read-write volume whose backend locks it leaves it mounted, synced and locked for the
  // linger: a Mount on this host meanwhile reuses it as it is. Any operation that needs the
  // volume unused ends the linger first, here or, through a release request, on the host that
  // keeps it; the scheduler ends it when the time is up (engine/linger.cc).
  void set_linger_scheduler(Scheduler scheduler) { linger_scheduler_ = std::move(scheduler); }
  // Ends every linger on this host (berthd stopping).
  void EndLingers();
  // What Reconcile did with one volume's host state.
  struct ReconcileAction {
    enum class Kind {
      kAdopted,   // mounted or attached, healthy and referenced: kept as it is
      kReleased,  // provably unused: unmounted, unmapped, unlocked, state removed
      kBroken,    // in use but its mapper or mounter is gone: left mounted, reported
      kFailed,    // could not be checked or released: left as it is, reported
    };
    std::string volume;
    Kind kind;
    std::string detail;
  };
  // Brings this host's state files in line with the mounts, mappings and mapper processes
  // that really exist (berthd calls it at start). Each volume is handled under its lock:
  // what is healthy and referenced is adopted; attaches that never finished are undone;
  // pending detaches are finished; attachments nothing can be using (no reference, or no
  // mount left) are released. A mount with live references is never unmounted.
  std::vector<ReconcileAction> Reconcile();

  // Never wait behind an attach: they take no volume lock.
  VolumeInfo Get(const std::string& name);
  std::vector<VolumeInfo> List();
  // The same for reads that only report (dockerd's Get, List and Path): the records may come
  // from a backend's copy in memory (VolumeRegistry::LookupCached), never to decide anything.
  // kSkip leaves the holders out (Path needs none).
  enum class Holders { kRead, kSkip };
  VolumeInfo GetCached(const std::string& name, Holders holders = Holders::kRead);
  // dockerd's List, without a copy per volume (1000 of them): `visit` sees each volume of the
  // backends' copies, with this host's state of it when it is attached here.
  using ListVisitor =
      std::function<void(const VolumeRecord& record, const std::optional<HostVolumeState>& local)>;
  void VisitCached(const ListVisitor& visit);

  const Config& config() const { return config_; }
  Backend& BackendFor(const std::string& backend_name);

 private:
  std::string MountPath(const std::string& name) const;
  // How long an operation waits for its volume's lock (config busy_wait_seconds).
  std::chrono::milliseconds BusyWait() const {
    return std::chrono::seconds(config_.busy_wait_seconds);
  }
  std::string WorkDir(const std::string& name) const;
  // Looks the volume up in every backend (the registry is per backend).
  // `cached`: the backends' LookupCached, for reports only.
  std::optional<std::pair<VolumeRecord, Backend*>> Find(const std::string& name,
                                                        bool cached = false);
  // Find, with a missing volume as kNotFound "volume NAME does not exist".
  std::pair<VolumeRecord, Backend*> FindOrThrow(const std::string& name, bool cached = false);
  void VisitFrom(bool cached, const ListVisitor& visit);
  // The volume, its backend and that backend's snapshot store, with `snap` checked by the
  // store's own name rule; kInvalidArgument when the backend keeps no snapshots.
  struct SnapshotTarget {
    VolumeRecord record;
    Backend* backend;
    SnapshotStore* snapshots;
  };
  SnapshotTarget FindSnapshotTarget(const std::string& name, const std::string& snap);
  void TearDown(Backend& backend, const VolumeRecord& record, const HostVolumeState& state);
  // Under the volume lock: finishes a pending detach or cleans a stale attachment, and returns
  // the state only if it is still usable (mounted and healthy, or staged and attached). A
  // lingering volume is usable only for a Docker Mount (`reuse_linger`); for anything else its
  // linger ends here.
  std::optional<HostVolumeState> UsableState(Backend& backend, const VolumeRecord& record,
                                             bool reuse_linger);
  // The linger (engine/linger.cc). Under the volume lock, from the last Unmount: true when the
  // volume now lingers (it may not: read-only, no locks, no scheduler, or serving failed).
  bool StartLinger(HostVolumeState& state);
  // Under the volume lock: ends this host's linger of the volume, if it lingers; true if it did.
  bool EndLingerHere(const std::string& name, const std::string& why);
  // Under the volume lock, for an operation that needs the volume unused: ends a linger here,
  // and asks a host that holds its lock to release it (it does if it only lingers there).
  void ReleaseUnused(Backend& backend, const VolumeRecord& record);
  // The scheduler's call: ends the linger if its time is up (a later linger has a later time).
  void EndExpiredLinger(const std::string& name);
  // Another host's release request: the answer, after tearing a linger down.
  ReleaseAnswer AnswerReleaseRequest(const std::string& name, const std::string& asker);
  // In whichever backend serves them (the volume's state may be gone already).
  void StopServingReleaseRequests(const std::string& name);
  // On the detach executor when there is one, else at once.
  void RunDetached(std::function<void()> work);
  // Under the volume lock: the volume (kNotFound when missing), its backend, and its state on
  // this host if still usable (UsableState).
  struct UsableVolume {
    VolumeRecord record;
    Backend* backend;
    std::optional<HostVolumeState> state;
  };
  UsableVolume FindUsable(const std::string& name, bool reuse_linger = false);
  // Under the volume lock: attaches and saves the state (nothing mounted yet).
  HostVolumeState AttachNew(Backend& backend, const VolumeRecord& record, bool read_only,
                            bool staged);
  // Under the volume lock: formats if new and mounts the attached device at `mount_point`;
  // returns whether it formatted. Saves the state.
  bool MountAttached(Backend& backend, VolumeRecord& record, HostVolumeState& state,
                     const std::string& mount_point);
  // Publish's fast path: a reference on a volume staged and healthy on this host, found from
  // the host state alone (no registry read). False when Mount must decide.
  bool AddStagedRef(const std::string& name, const std::string& target, bool read_only,
                    MountResult& result);
  // The volume whose host state matches, read without the volume lock (re-check under it).
  std::optional<std::string> FindState(
      const std::function<bool(const HostVolumeState&)>& matches) const;
  void FinishDetach(const std::string& name);
  // Under the volume lock: undoes an attach recorded in `state` as not finished.
  void UndoAttach(Backend& backend, const VolumeRecord& record, const HostVolumeState& state);
  // Under the volume lock: Reconcile for one volume; nullopt when its state is gone.
  std::optional<ReconcileAction> ReconcileVolume(const std::string& name);
  // Whether one of `state`'s references is a kubelet pod directory that is still mounted.
  // What is live on this host for `state`, for Classify().
  LiveFacts Observe(Backend& backend, const HostVolumeState& state) const;

  Config config_;
  std::map<std::string, std::unique_ptr<Backend>> backends_;
  std::unique_ptr<Host> host_;
  HostStateStore states_;
  Executor detach_executor_;
  Scheduler linger_scheduler_;
};

}  // namespace berth::engine
