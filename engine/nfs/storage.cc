// Volumes' directories: no two overlap; created with their owner and mode; removed by policy.
#include "engine/nfs/nfs_backend.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <ctime>

#include "common/error.h"
#include "common/strings.h"
#include "engine/nfs/export_layout.h"

namespace berth::engine {

namespace {

// One directory is the other, or holds it. Without case: "Data" and "data/x" overlap.
bool DirectoriesOverlap(const std::string& a, const std::string& b) {
  const std::string x = AsciiLower(a) + "/";
  const std::string y = AsciiLower(b) + "/";
  return x.starts_with(y) || y.starts_with(x);
}

}  // namespace

void NfsBackend::CheckNoOverlap(const VolumeSpec& spec) {
  for (const auto& other : ListLocked()) {
    if (other.spec.name == spec.name) {
      continue;
    }
    if (DirectoriesOverlap(other.spec.subdir, spec.subdir)) {
      const std::string relation =
          AsciiLower(other.spec.subdir) == AsciiLower(spec.subdir) ? "is the directory of"
          : AsciiLower(other.spec.subdir).size() < AsciiLower(spec.subdir).size()
              ? "is inside the directory of"
              : "holds the directory of";
      throw Error(ErrorCode::kConflict,
                  "subdir " + spec.subdir + " of volume " + spec.name + " " + relation +
                      " volume " + other.spec.name + " (subdir " + other.spec.subdir +
                      "); volumes may not share or nest directories, since removing one would "
                      "delete or move the other's data. Pick a subdir outside " +
                      other.spec.subdir);
    }
  }
}

void NfsBackend::CheckNotMounted(const VolumeSpec& spec, const std::string& doing) {
  if (!Tree().Exists(AttachedDir(spec))) {
    return;
  }
  std::vector<std::string> hosts;
  for (const auto& host : Tree().List(AttachedDir(spec))) {
    if (!host.ends_with(".tmp")) {
      hosts.push_back(host);
    }
  }
  if (!hosts.empty()) {
    throw Error(ErrorCode::kBusy,
                "volume " + spec.name + " is mounted on host(s) " + Join(hosts, ", ") +
                    "; unmount it there before " + doing +
                    " (a host that is gone for good: see \"NFS volume mounted on a host that "
                    "is gone\" in docs/operations.md)");
  }
}

void NfsBackend::CheckNewStorage(VolumeRecord& record, bool /*size_given*/) {
  TreeLock lock(*this);
  const auto& spec = record.spec;
  CheckNoOverlap(spec);
  const bool exists = Tree().Exists(VolumeDir(spec));
  if (exists && !spec.adopted) {
    throw Error(ErrorCode::kConflict, "directory " + VolumeDir(spec) + " already exists on " +
                                          settings_.server + ":" + settings_.export_path +
                                          "; pass subdir=" + spec.subdir + " to use it as is");
  }
}

void NfsBackend::EnsureStorage(const VolumeRecord& record) {
  TreeLock lock(*this);
  const auto& spec = record.spec;
  // Again once registered: two hosts creating overlapping volumes at once both passed
  // CheckNewStorage, and now each sees the other (both fail; a retry lets one win).
  CheckNoOverlap(spec);
  const std::string dir = VolumeDir(spec);
  if (Tree().IsDirectory(dir)) {
    return;
  }
  const auto slash = dir.rfind('/');
  if (slash > 0) {
    Tree().MakeDirectories(dir.substr(0, slash));
  }
  Tree().MakeDirectory(dir, spec.mode, spec.uid, spec.gid);
  spdlog::info("created NFS directory {}:{}{}", settings_.server, settings_.export_path, dir);
}

void NfsBackend::DeleteStorage(const VolumeRecord& record) {
  TreeLock lock(*this);
  const auto& spec = record.spec;
  const std::string dir = VolumeDir(spec);
  CheckNotMounted(spec, "removing it");
  // As with RBD: a volume's snapshots go first, so a later volume of the same name never
  // finds (and rolls back to) them.
  if (const std::string snaps = "/.berth-snapshots/" + spec.name; Tree().Exists(snaps)) {
    for (const auto& entry : Tree().List(snaps)) {
      if (!entry.ends_with(".json") && !entry.ends_with(".tmp")) {
        throw Error(ErrorCode::kBusy, "volume " + spec.name + " has snapshots (" + entry +
                                          ", ...); remove them first");
      }
    }
  }
  if (spec.on_remove == "retain" || !Tree().Exists(dir)) {
    spdlog::info("volume {}: keeping {} on the export (on_remove={})", spec.name, dir,
                 spec.on_remove);
    return;
  }
  if (spec.on_remove == "delete") {
    Tree().RemoveTree(dir);
    spdlog::info("volume {}: deleted {} from the export", spec.name, dir);
    return;
  }
  Tree().MakeDirectories(kArchiveDir);
  std::string stamp = NowRfc3339();
  for (auto& c : stamp) {
    c = c == ':' ? '-' : c;
  }
  std::string flat = spec.subdir;
  for (auto& c : flat) {
    c = c == '/' ? '_' : c;
  }
  const std::string target = std::string(kArchiveDir) + "/" + flat + "-" + stamp;
  Tree().Rename(dir, target);
  spdlog::info("volume {}: archived {} as {}", spec.name, dir, target);
}

}  // namespace berth::engine
