// RBD snapshots of one image: create, list, remove, roll back, protect, clone and flatten,
// with librbd's progress callbacks for the long ones.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backends/rbd/cluster.h"

namespace berth::rbd {

struct SnapshotInfo {
  std::string name;
  uint64_t size = 0;        // the image's size when the snapshot was taken
  uint64_t used_bytes = 0;  // bytes written in the image up to the snapshot (rbd du)
  int64_t created = 0;      // seconds since the epoch
  bool is_protected = false;
};

// Called with (done, total) as librbd reports progress.
using Progress = std::function<void(uint64_t done, uint64_t total)>;

// Snapshot names: 1-64 characters from [A-Za-z0-9_.-], starting with a letter or digit.
void ValidateSnapshotName(const std::string& snap);

void CreateSnapshot(const IoCtx& io, const std::string& image, const std::string& snap);
std::vector<SnapshotInfo> ListSnapshots(const IoCtx& io, const std::string& image);
// Refused (kBusy) while protected with clones; unprotects a protected snapshot without any.
void RemoveSnapshot(const IoCtx& io, const std::string& image, const std::string& snap);
// Rewrites the image to the snapshot's content. The caller makes sure nobody has it mapped.
void RollbackSnapshot(const IoCtx& io, const std::string& image, const std::string& snap,
                      const Progress& progress);
// Clones image@snap to `clone` (protecting the snapshot first if the cluster needs it).
void CloneSnapshot(const IoCtx& io, const std::string& image, const std::string& snap,
                   const IoCtx& clone_io, const std::string& clone, uint64_t features);
// Copies the parent's data into the clone so it no longer depends on the snapshot.
void Flatten(const IoCtx& io, const std::string& image, const Progress& progress);

}  // namespace berth::rbd
