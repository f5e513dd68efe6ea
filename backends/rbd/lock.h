// The single-writer guard: a RADOS lock on a per-image object, "berth.lock.<image>", whose
// cookie names the host that attached the image read-write.
//
// Why not the image's own locks: librbd's managed exclusive lock is handed to whichever
// cooperating client asks (rbd-fuse, rbd-nbd), so two hosts would take turns writing one
// filesystem; and an advisory `rbd lock` on the header shares its lock name with the managed
// lock, so while it is held no mapper can ever write. A lock on a separate object is never
// handed over, survives the process that took it, and leaves librbd's own locking alone.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backends/rbd/cluster.h"

namespace berth::rbd {

// Who attached an image read-write: the host, the berth installation (instance) on it, and
// the volume it attached the image as. An attach only ever takes or releases its own.
struct LockOwner {
  std::string host_id;
  std::string instance_id;  // empty in a lock taken by a berth before instance ids
  std::string volume;       // empty in a lock taken by a berth before instance ids
};

struct LockHolder {
  std::string client;   // "client.4121"
  std::string cookie;   // "berth host=<host id> instance=<instance id> volume=<volume>"
  std::string address;  // "127.0.0.1:0/3141592"
  std::string host_id;  // parsed from a berth cookie; empty for a foreign lock
  std::string instance_id;
  std::string volume;
};

std::string LockObject(const std::string& image);
std::string LockCookie(const LockOwner& owner);
// The owner in a berth cookie, or nullopt for a cookie berth did not write.
std::optional<LockOwner> OwnerFromCookie(const std::string& cookie);
// Whether `holder` is `owner`'s lock: the same host, instance and volume, or the same host in a
// cookie without an instance (taken by an older berth, adopted on upgrade).
bool IsOwnLock(const LockHolder& holder, const LockOwner& owner);

std::vector<LockHolder> ListLockHolders(const IoCtx& io, const std::string& image);

// Takes the lock for `owner`; true when this call took it, false when `owner` held it already
// (then a failure of the caller's attach must not release it: it was not taken for that
// attach). Another host's lock is kBusy naming that host, client and address. A lock of the
// same host id under another instance is kConflict (two installations claim one host id), and
// so is one of this installation under another volume (two volumes on one image).
bool AcquireLock(const IoCtx& io, const std::string& image, const std::string& volume,
                 const LockOwner& owner);

// Releases `owner`'s own locks (IsOwnLock), never another instance's or host's.
void ReleaseLock(const IoCtx& io, const std::string& image, const LockOwner& owner);

// Breaks any holder's lock (for the operator's `berthctl lock break`).
void BreakLock(const IoCtx& io, const std::string& image, const LockHolder& holder);

// The Ceph clients that serve the holder's mapping (rbd-fuse, rbd-nbd, the kernel client),
// recorded on the lock object after mapping, because the lock is taken by another client (the
// berth process) and fencing must stop the clients that actually write.
void RecordMappers(const IoCtx& io, const std::string& image, const std::string& host_id,
                   const std::vector<std::string>& addresses);
// The recorded mappers of `host_id` (empty when none were recorded for that host).
std::vector<std::string> RecordedMappers(const IoCtx& io, const std::string& image,
                                         const std::string& host_id);

// Deletes the lock object with its image.
void RemoveLockObject(const IoCtx& io, const std::string& image);

}  // namespace berth::rbd
