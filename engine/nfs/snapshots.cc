// Snapshots as full copies on the export; rollback swaps directories and archives the old.
#include "engine/nfs/nfs_backend.h"

#include <ctime>

#include "common/error.h"
#include "common/strings.h"
#include "engine/nfs/export_layout.h"

namespace berth::engine {

void NfsBackend::ValidateSnapshotName(const std::string& snap) const {
  // A directory beside its ".json" metadata, copied in under a temporary name first.
  if (!IsPortableName(snap, 64) || snap.ends_with(".json") || snap.ends_with(".tmp")) {
    throw Error(ErrorCode::kInvalidArgument,
                "snapshot name '" + Printable(snap) +
                    "' is invalid: use 1-64 characters from A-Z a-z 0-9 _ . -, starting with a "
                    "letter or digit and not ending in .json or .tmp");
  }
}

namespace {

Error MissingSnapshot(const VolumeSpec& spec, const std::string& snap) {
  return Error(ErrorCode::kNotFound, "snapshot " + spec.name + "@" + snap + " does not exist");
}

}  // namespace

void NfsBackend::CreateSnapshot(const VolumeRecord& record, const std::string& snap,
                                const ProgressFn& progress) {
  TreeLock lock(*this);
  const auto& spec = record.spec;
  auto& tree = Tree();
  const std::string base = SnapshotBase(spec);
  const std::string target = base + "/" + snap;
  tree.MakeDirectories(base);
  if (tree.Exists(target)) {
    throw Error(ErrorCode::kConflict, "snapshot " + spec.name + "@" + snap + " already exists");
  }
  // Copied under a temporary name and renamed: a snapshot that exists is complete.
  const std::string partial = TempPath("snapshot", spec.name + "@" + snap);
  tree.MakeDirectories(kTempDir);
  if (tree.Exists(partial)) {
    tree.RemoveTree(partial);  // left by an interrupted snapshot
  }
  tree.CopyTree(VolumeDir(spec), partial, progress);
  const nlohmann::json meta = {{"created", static_cast<int64_t>(std::time(nullptr))},
                               {"bytes", tree.TreeBytes(partial)}};
  tree.WriteFile(target + ".json", meta.dump());
  tree.Rename(partial, target);
}

std::vector<SnapshotInfo> NfsBackend::ListSnapshots(const VolumeRecord& record) {
  TreeLock lock(*this);
  auto& tree = Tree();
  const std::string base = SnapshotBase(record.spec);
  std::vector<SnapshotInfo> out;
  if (!tree.Exists(base)) {
    return out;
  }
  for (const auto& entry : tree.List(base)) {
    if (entry.ends_with(".json") || entry.ends_with(".tmp")) {
      continue;
    }
    SnapshotInfo info;
    info.name = entry;
    if (auto text = tree.ReadFile(base + "/" + entry + ".json")) {
      auto meta = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (meta.is_object()) {
        info.created = meta.value("created", int64_t{0});
        info.used_bytes = meta.value("bytes", uint64_t{0});
      }
    }
    info.size = info.used_bytes;
    out.push_back(info);
  }
  return out;
}

void NfsBackend::RemoveSnapshot(const VolumeRecord& record, const std::string& snap) {
  TreeLock lock(*this);
  auto& tree = Tree();
  const std::string target = SnapshotBase(record.spec) + "/" + snap;
  if (!tree.IsDirectory(target)) {
    throw MissingSnapshot(record.spec, snap);
  }
  tree.RemoveFile(target + ".json");
  tree.RemoveTree(target);
}

void NfsBackend::Rollback(const VolumeRecord& record, const std::string& snap,
                          const ProgressFn& progress) {
  TreeLock lock(*this);
  const auto& spec = record.spec;
  auto& tree = Tree();
  const std::string source = SnapshotBase(spec) + "/" + snap;
  if (!tree.IsDirectory(source)) {
    throw MissingSnapshot(spec, snap);
  }
  // The copy goes beside the volume; only when it is complete do the two swap by renames.
  const std::string dir = VolumeDir(spec);
  const std::string incoming = TempPath("rollback", spec.name);
  tree.MakeDirectories(kTempDir);
  if (tree.Exists(incoming)) {
    tree.RemoveTree(incoming);
  }
  tree.CopyTree(source, incoming, progress);
  // The replaced tree is archived, not deleted: nothing is destroyed by a rollback.
  tree.MakeDirectories(kArchiveDir);
  tree.Rename(dir, std::string(kArchiveDir) + "/" + spec.name + "-pre-rollback-" +
                       std::to_string(std::time(nullptr)));
  tree.Rename(incoming, dir);
}

void NfsBackend::Clone(const VolumeRecord& record, const std::string& snap,
                       const VolumeRecord& clone, bool /*flatten*/, const ProgressFn& progress) {
  TreeLock lock(*this);
  auto& tree = Tree();
  const std::string source = SnapshotBase(record.spec) + "/" + snap;
  if (!tree.IsDirectory(source)) {
    throw MissingSnapshot(record.spec, snap);
  }
  const std::string target = VolumeDir(clone.spec);
  if (tree.Exists(target)) {
    return;  // an interrupted clone's retry: the copy was complete (it is renamed into place)
  }
  const std::string partial = TempPath("clone", clone.spec.name);
  tree.MakeDirectories(kTempDir);
  if (tree.Exists(partial)) {
    tree.RemoveTree(partial);
  }
  tree.CopyTree(source, partial, progress);  // always a full copy: NFS clones are flat
  tree.Rename(partial, target);
}

}  // namespace berth::engine
