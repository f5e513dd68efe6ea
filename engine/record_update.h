// Updates of a volume's registry entry that never lose another host's: a compare-and-set on the
// version that was read, re-read and re-applied on conflict (issue 14). A resize on one host and
// the first mount's format ledger on another both land, whatever their order.
#pragma once

#include <functional>

#include "engine/backend.h"
#include "engine/volume_record.h"

namespace berth::engine {

// Applies `change` to the entry of `record` (as read from `backend`, `stored` set) by
// compare-and-set, re-reading and re-applying it when another writer changed the entry since;
// kNotFound when the volume was removed meanwhile. The format ledger is write-once: a recorded
// formatted_at/formatted_by is never cleared or rewritten, whatever `change` does. `record`
// ends as written.
void ChangeRecord(Backend& backend, VolumeRecord& record,
                  const std::function<void(VolumeRecord&)>& change);

}  // namespace berth::engine
