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

struct LockHolder {
  std::string client;   // "client.4121"
  std::string cookie;   // "berth host=<host id>"
  std::string address;  // "127.0.0.1:0/3141592"
  std::string host_id;  // parsed from a berth cookie; empty for a foreign lock
};

std::string LockObject(const std::string& image);
std::string LockCookie(const std::string& host_id);
// The host id in a berth cookie, or nullopt for a cookie berth did not write.
std::optional<std::string> HostFromCookie(const std::string& cookie);

std::vector<LockHolder> ListLockHolders(const IoCtx& io, const std::string& image);

// Takes the lock for `host_id`. Succeeds when that host already holds it (an earlier berthd
// on this host took it). Another holder means kBusy, naming the holder's host, client and
// address so the user knows where to stop the volume.
void AcquireLock(const IoCtx& io, const std::string& image, const std::string& volume,
                 const std::string& host_id);

// Releases every lock held under `host_id`'s cookie, whichever client took it.
void ReleaseLock(const IoCtx& io, const std::string& image, const std::string& host_id);

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
