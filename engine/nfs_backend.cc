#include "engine/nfs_backend.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <set>

#include "backends/nfs/mounters/mounter.h"
#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "engine/instance_id.h"
#include "engine/volume_spec.h"

namespace berth::engine {

namespace {

constexpr const char* kRegistryDir = "/.berth/volumes";
constexpr const char* kArchiveDir = "/.berth-archive";

std::string RecordPath(const std::string& name) {
  return std::string(kRegistryDir) + "/" + name + ".json";
}

std::string VolumeDir(const VolumeSpec& spec) { return "/" + spec.subdir; }

// Which installation uses each host id: one file per host id, holding its instance id.
std::string HostClaimPath(const std::string& host_id) { return "/.berth/hosts/" + host_id; }

// One empty file per host that has the volume mounted.
std::string AttachedDir(const VolumeSpec& spec) { return "/.berth/attached/" + spec.name; }

}  // namespace

NfsSettings ParseNfsSettings(const BackendConfig& config) {
  static const std::set<std::string> known = {
      "type",    "server",    "export",        "nfs_port",   "mount_port",  "version",
      "mounter", "on_remove", "mount_options", "timeout_ms", "default_size"};
  const auto& s = config.settings;
  for (const auto& [key, value] : s.items()) {
    if (!known.contains(key)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown key '" + key + "' in nfs backend '" + config.name +
                      "'; allowed: server, export, nfs_port, mount_port, version, mounter, "
                      "on_remove, mount_options, timeout_ms, default_size");
    }
  }
  NfsSettings settings;
  try {
    settings.server = s.at("server").get<std::string>();
    settings.export_path = s.value("export", settings.export_path);
    settings.nfs_port = s.value("nfs_port", settings.nfs_port);
    settings.mount_port = s.value("mount_port", settings.mount_port);
    settings.version = s.value("version", settings.version);
    settings.mounter = s.value("mounter", settings.mounter);
    settings.mount_options = s.value("mount_options", "");
    settings.timeout_ms = s.value("timeout_ms", settings.timeout_ms);
  } catch (const nlohmann::json::exception& e) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "nfs backend '" + config.name + "' needs \"server\" and well-typed settings: " + e.what());
  }
  auto invalid = [&](const std::string& what) {
    return Error(ErrorCode::kInvalidArgument, "nfs backend '" + config.name + "': " + what);
  };
  if (settings.server.empty()) {
    throw invalid("server is empty; name the NFS server's address or host name");
  }
  if (settings.nfs_port < 1 || settings.nfs_port > 65535) {
    throw invalid("nfs_port must be a port from 1 to 65535");
  }
  if (settings.mount_port < 0 || settings.mount_port > 65535) {
    throw invalid("mount_port must be a port from 1 to 65535, or 0 to ask the portmapper");
  }
  if (settings.export_path.empty() || settings.export_path.front() != '/' ||
      settings.export_path.find("..") != std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument,
                "nfs backend '" + config.name + "': export must be an absolute path");
  }
  try {
    ValidateVolumeMountOptions(settings.mount_options, "nfs");
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument,
                "nfs backend '" + config.name + "': setting mount_options: " + e.what());
  }
  if (settings.version != 3 && settings.version != 4) {
    throw Error(ErrorCode::kInvalidArgument,
                "nfs backend '" + config.name + "': version must be 3 or 4");
  }
  if (settings.timeout_ms < 100 || settings.timeout_ms > 110000) {
    // Docker gives a Mount 2 minutes: a timeout past that would turn into its error, not ours.
    throw Error(ErrorCode::kInvalidArgument,
                "nfs backend '" + config.name + "': timeout_ms must be 100-110000");
  }
  nfs::MakeNfsMounter(settings.mounter == "auto" ? "kernel" : settings.mounter);  // validates
  return settings;
}

NfsBackend::TreeLock::TreeLock(NfsBackend& backend)
    : backend_(backend), lock_(backend.mu_), exceptions_(std::uncaught_exceptions()) {}

NfsBackend::TreeLock::~TreeLock() {
  // A failed call may have left the context mid-RPC or disconnected: start the next one on a
  // fresh connection (a few ms) rather than reuse a broken one.
  if (std::uncaught_exceptions() > exceptions_) {
    backend_.broken_ = true;
  }
}

std::string NfsBackend::Url() const {
  std::string url = "nfs://" + settings_.server + settings_.export_path +
                    "?nfsport=" + std::to_string(settings_.nfs_port);
  if (settings_.mount_port > 0) {
    url += "&mountport=" + std::to_string(settings_.mount_port);
  }
  return url;
}

nfs::ExportTree& NfsBackend::Tree() {
  if (tree_ && broken_) {
    tree_.reset();  // reconnect after the server went away
  }
  broken_ = false;
  if (!tree_) {
    tree_ = std::make_unique<nfs::ExportTree>(
        nfs::NfsContext::Connect({Url(), std::chrono::milliseconds(settings_.timeout_ms)}));
  }
  return *tree_;
}

std::optional<VolumeRecord> NfsBackend::Lookup(const std::string& name) {
  TreeLock lock(*this);
  auto text = Tree().ReadFile(RecordPath(name));
  if (!text) {
    return std::nullopt;
  }
  auto record = RecordFromString(name, *text);
  record.stored = *text;
  return record;
}

std::vector<VolumeRecord> NfsBackend::List() {
  TreeLock lock(*this);
  return ListLocked();
}

std::vector<VolumeRecord> NfsBackend::ListLocked() {
  std::vector<VolumeRecord> records;
  if (!Tree().Exists(kRegistryDir)) {
    return records;
  }
  for (const auto& file : Tree().List(kRegistryDir)) {
    if (file.size() <= 5 || file.substr(file.size() - 5) != ".json") {
      continue;  // temp files of a write in progress
    }
    const std::string name = file.substr(0, file.size() - 5);
    try {
      if (auto text = Tree().ReadFile(std::string(kRegistryDir) + "/" + file)) {
        records.push_back(RecordFromString(name, *text));
        records.back().stored = *text;
      }
    } catch (const Error& e) {
      spdlog::warn("skipping NFS registry entry {}: {}", file, e.what());
    }
  }
  return records;
}

bool NfsBackend::RegisterNew(VolumeRecord& record) {
  TreeLock lock(*this);
  Tree().MakeDirectories(kRegistryDir);
  const std::string text = RecordToString(record);
  if (!Tree().CreateFile(RecordPath(record.spec.name), text)) {
    return false;
  }
  record.stored = text;
  return true;
}

bool NfsBackend::UpdateRecord(const VolumeRecord& read, VolumeRecord& updated) {
  TreeLock lock(*this);
  // A version check, then a rename of this writer's own temp file. NFS has no compare-and-set,
  // so two updates within one round trip of each other can still race; entries change rarely
  // on NFS (no format ledger, no resize), and each update re-reads and re-applies its change.
  const auto current = Tree().ReadFile(RecordPath(read.spec.name));
  if (read.stored.empty() || !current || *current != read.stored) {
    return false;
  }
  const std::string text = RecordToString(updated);
  Tree().WriteFile(RecordPath(read.spec.name), text);
  updated.stored = text;
  return true;
}

void NfsBackend::Unregister(const VolumeRecord& record) {
  TreeLock lock(*this);
  const std::string path = RecordPath(record.spec.name);
  if (!record.stored.empty() && Tree().ReadFile(path) != record.stored) {
    spdlog::warn("volume {} changed in the registry meanwhile; its entry is left",
                 record.spec.name);
    return;
  }
  Tree().RemoveFile(path);
}

namespace {

std::string Lower(std::string text) {
  for (auto& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

// One directory is the other, or holds it. Without case: "Data" and "data/x" overlap.
bool DirectoriesOverlap(const std::string& a, const std::string& b) {
  const std::string x = Lower(a) + "/";
  const std::string y = Lower(b) + "/";
  return x.starts_with(y) || y.starts_with(x);
}

}  // namespace

void NfsBackend::CheckNoOverlap(const VolumeSpec& spec) {
  for (const auto& other : ListLocked()) {
    if (other.spec.name == spec.name) {
      continue;
    }
    if (DirectoriesOverlap(other.spec.subdir, spec.subdir)) {
      const std::string relation = Lower(other.spec.subdir) == Lower(spec.subdir)
                                       ? "is the directory of"
                                   : Lower(other.spec.subdir).size() < Lower(spec.subdir).size()
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

Attachment NfsBackend::Attach(const VolumeRecord& record, bool read_only,
                              const std::string& work_dir, const std::string& mount_point) {
  const auto& spec = record.spec;
  {
    TreeLock lock(*this);
    CheckHostClaim();
    if (!Tree().IsDirectory(VolumeDir(spec))) {
      throw Error(ErrorCode::kNotFound, "directory " + VolumeDir(spec) + " of volume " + spec.name +
                                            " is missing on the NFS export");
    }
  }
  nfs::NfsMountRequest request;
  request.server = settings_.server;
  request.export_path = settings_.export_path == "/" ? "" : settings_.export_path;
  request.directory = VolumeDir(spec);
  request.nfs_port = settings_.nfs_port;
  request.mount_port = settings_.mount_port;
  request.version = settings_.version;
  for (const std::string* list :
       std::initializer_list<const std::string*>{&settings_.mount_options, &spec.mount_options}) {
    if (!list->empty()) {
      auto items = Split(*list, ',');
      request.options.insert(request.options.end(), items.begin(), items.end());
    }
  }
  request.read_only = read_only;
  request.allow_suid = spec.suid;
  request.timeout_ms = settings_.timeout_ms;
  request.mount_point = mount_point;
  request.work_dir = work_dir;
  auto mounter = nfs::MakeNfsMounter(settings_.mounter);
  auto mounted = mounter->Mount(request);
  try {
    // Which hosts have it mounted, for the guards that need "nobody uses it" (rollback).
    TreeLock lock(*this);
    Tree().MakeDirectories(AttachedDir(spec));
    Tree().WriteFile(AttachedDir(spec) + "/" + host_id_, NowRfc3339());
  } catch (const Error& e) {
    spdlog::warn("cannot record that {} is mounted on {}: {}", spec.name, host_id_, e.what());
  }
  spdlog::info("mounted nfs://{}{}{} at {} with {}", settings_.server, request.export_path,
               request.directory, mount_point, mounted.mounter);
  return {"", true, {{"mounter", mounted.mounter}, {"pid", mounted.pid}}};
}

void NfsBackend::CheckHostClaim() {
  if (host_claimed_) {
    return;
  }
  const std::string path = HostClaimPath(host_id_);
  Tree().MakeDirectories("/.berth/hosts");
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (Tree().CreateFile(path, instance_id_ + "\n")) {
      host_claimed_ = true;
      return;
    }
    auto text = Tree().ReadFile(path);
    if (!text) {
      continue;  // forgotten between the two calls: claim it again
    }
    const std::string holder = Trim(*text);
    if (holder != instance_id_) {
      throw HostIdTakenError(host_id_, "on this NFS export", holder, instance_id_);
    }
    host_claimed_ = true;
    return;
  }
  throw Error(ErrorCode::kUnavailable,
              "the registration of host id " + host_id_ + " on the NFS export keeps changing");
}

void NfsBackend::ForgetHost(const std::string& host_id) {
  TreeLock lock(*this);
  Tree().RemoveFile(HostClaimPath(host_id));
  if (host_id == host_id_) {
    host_claimed_ = false;
  }
}

void NfsBackend::Detach(const VolumeRecord& record, const nlohmann::json& attachment_state) {
  const std::string mounter = attachment_state.value("mounter", "");
  if (!mounter.empty()) {
    nfs::MakeNfsMounter(mounter)->Release({mounter, attachment_state.value("pid", 0)});
  }
  try {
    TreeLock lock(*this);
    Tree().RemoveFile(AttachedDir(record.spec) + "/" + host_id_);
  } catch (const Error& e) {
    spdlog::warn("cannot clear the mount record of {} on {}: {}", record.spec.name, host_id_,
                 e.what());
  }
}

void NfsBackend::UndoAttach(const VolumeRecord& record, bool /*read_only*/,
                            const std::string& work_dir) {
  // The FUSE mounter exits once its mount is gone; one that never mounted is stopped here.
  nlohmann::json state = {{"mounter", ""}, {"pid", 0}};
  if (auto pid = ReadFileIfExists(work_dir + "/berth-nfs-fuse.pid")) {
    state = {{"mounter", "fuse"}, {"pid", std::strtol(pid->c_str(), nullptr, 10)}};
  }
  Detach(record, state);
}

bool NfsBackend::AttachmentHealthy(const nlohmann::json& attachment_state,
                                   const std::string& mount_point) {
  const std::string mounter = attachment_state.value("mounter", "");
  return !mounter.empty() && nfs::MakeNfsMounter(mounter)->Healthy(
                                 {mounter, attachment_state.value("pid", 0)}, mount_point);
}

std::vector<HolderInfo> NfsBackend::Holders(const VolumeRecord& /*record*/) {
  return {};  // NFS volumes are shared: many hosts read and write at once
}

void NfsBackend::Grow(const VolumeRecord& record, uint64_t /*size*/) {
  throw Error(ErrorCode::kInvalidArgument,
              "volume " + record.spec.name +
                  " is an NFS directory: it has no size of its own to grow (the export's "
                  "free space is what it can use)");
}

void NfsBackend::RefreshAttachment(const VolumeRecord& /*record*/,
                                   const nlohmann::json& /*attachment_state*/, uint64_t /*size*/) {}

namespace {

constexpr const char* kSnapshotDir = "/.berth-snapshots";
// Copies in progress live here, never beside volumes, whose names they could collide with.
constexpr const char* kTempDir = "/.berth-tmp";

std::string TempPath(const std::string& what, const std::string& name) {
  return std::string(kTempDir) + "/" + what + "-" + name;
}

std::string SnapshotBase(const VolumeSpec& spec) {
  return std::string(kSnapshotDir) + "/" + spec.name;
}

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

std::vector<std::string> NfsBackend::Watchers(const VolumeRecord& record) {
  TreeLock lock(*this);
  auto& tree = Tree();
  std::vector<std::string> hosts;
  if (tree.Exists(AttachedDir(record.spec))) {
    for (const auto& host : tree.List(AttachedDir(record.spec))) {
      if (!host.ends_with(".tmp")) {
        hosts.push_back("host " + host);
      }
    }
  }
  return hosts;
}

void NfsBackend::BreakLock(const VolumeRecord& record, const HolderInfo& /*holder*/,
                           bool /*fence*/) {
  throw Error(ErrorCode::kInvalidArgument,
              "volume " + record.spec.name + " is on NFS, which berth does not lock");
}

}  // namespace berth::engine
