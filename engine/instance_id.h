// This berth installation's identity beside its host id: a random id made once per state dir.
// Every berth process sharing a state dir (berthd, berth-flex, berthctl) shares it, and shares
// the per-volume flocks that serialize them; two installations with separate state dirs never
// do, even when they claim one host id (a cloned /etc/machine-id, or berth-flex on the host
// beside the managed plugin). Locks and host registrations carry it, so such twins are told
// apart and refused instead of writing one image at once.
#pragma once

#include <string>

#include "common/error.h"

namespace berth::engine {

// <state_dir>/instance-id: read, or made (32 hex digits from the kernel's random pool) by the
// first process; concurrent first processes agree on the one that was written first.
std::string LoadOrCreateInstanceId(const std::string& state_dir);

// 32 hex digits from the kernel's random pool.
std::string RandomHex();

// Whether `text` is an instance id as LoadOrCreateInstanceId makes them.
bool IsInstanceId(const std::string& text);

// The refusal when `host_id` is registered, `where` (e.g. "on this Ceph cluster"), to the
// installation `holder` and this one is `instance_id`: what happened and how to fix it.
Error HostIdTakenError(const std::string& host_id, const std::string& where,
                       const std::string& holder, const std::string& instance_id);

}  // namespace berth::engine
