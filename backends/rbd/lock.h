// The single-writer guard: an RBD advisory exclusive lock whose cookie names the host.
//
// The image's managed exclusive-lock feature is not enough on its own: cooperating librbd
// clients (rbd-fuse, rbd-nbd) hand that lock to whoever asks, so two hosts would take turns
// writing one filesystem. The advisory lock is never handed over, survives the process that
// took it, and names the host that holds it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backends/rbd/image.h"

namespace berth::rbd {

struct LockHolder {
  std::string client;   // "client.4121"
  std::string cookie;   // "berth host=<host id>"
  std::string address;  // "127.0.0.1:0/3141592"
  std::string host_id;  // parsed from a berth cookie; empty for a foreign lock
};

std::string LockCookie(const std::string& host_id);
// The host id in a berth cookie, or nullopt for a cookie berth did not write.
std::optional<std::string> HostFromCookie(const std::string& cookie);

std::vector<LockHolder> ListLockHolders(const Image& image);

// Takes the lock for `host_id`. Succeeds when that host already holds it (an earlier berthd
// on this host took it). Another holder means kBusy, naming the holder's host, client and
// address so the user knows where to stop the volume.
void AcquireLock(const Image& image, const std::string& volume, const std::string& host_id);

// Releases every lock held under `host_id`'s cookie, whichever client took it.
void ReleaseLock(const Image& image, const std::string& host_id);

// Breaks any holder's lock (for the operator's `berthctl lock break`).
void BreakLock(const Image& image, const LockHolder& holder);

}  // namespace berth::rbd
