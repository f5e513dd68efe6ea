#include "engine/record_update.h"

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace berth::engine {

void ChangeRecord(Backend& backend, VolumeRecord& record,
                  const std::function<void(VolumeRecord&)>& change) {
  const std::string& name = record.spec.name;
  for (int attempt = 0; attempt < 20; ++attempt) {
    VolumeRecord updated = record;
    change(updated);
    // The format ledger is write-once: whatever `change` did, what was recorded stays.
    if (record.formatted()) {
      updated.formatted_at = record.formatted_at;
      updated.formatted_by = record.formatted_by;
    }
    if (backend.UpdateRecord(record, updated)) {
      record = std::move(updated);
      return;
    }
    // Another host changed the entry since it was read: apply the change to what is there now.
    auto fresh = backend.Lookup(name);
    if (!fresh) {
      throw Error(ErrorCode::kNotFound, "volume " + name + " was removed meanwhile");
    }
    spdlog::info("volume {}: registry entry changed meanwhile; applying the update again", name);
    record = std::move(*fresh);
  }
  throw Error(ErrorCode::kUnavailable,
              "volume " + name + "'s registry entry kept changing under 20 updates; retry");
}

}  // namespace berth::engine
