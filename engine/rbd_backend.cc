#include "engine/rbd_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "backends/rbd/claim.h"
#include "backends/rbd/image.h"
#include "backends/rbd/keyfile.h"
#include "backends/rbd/lock.h"
#include "backends/rbd/registry.h"
#include "backends/rbd/snapshot.h"
#include "common/error.h"
#include "common/fault.h"
#include "common/strings.h"
#include "common/undo.h"
#include "engine/instance_id.h"

namespace berth::engine {

namespace {

nlohmann::json MappedToJson(const rbd::MappedDevice& mapped, const VolumeSpec& spec, bool locked) {
  return {{"mapper", mapped.mapper}, {"device", mapped.device},
          {"pid", mapped.pid},       {"fuse_dir", mapped.fuse_dir},
          {"pool", spec.pool},       {"image", spec.image},
          {"locked", locked}};
}

rbd::MappedDevice MappedFromJson(const nlohmann::json& state) {
  return {state.value("mapper", ""),   state.value("device", ""), state.value("pid", 0),
          state.value("fuse_dir", ""), state.value("pool", ""),   state.value("image", "")};
}

}  // namespace

void RbdBackend::ForgetMappers(const rbd::IoCtx& io, const std::string& image) {
  // A takeover fences the mappers recorded for the lock's host. Those of an earlier attach are
  // stale: while the record is empty, another host refuses to take over instead of fencing the
  // wrong clients and breaking a lock that is in use (a rollback holds it without a mapper).
  rbd::RecordMappers(io, image, host_id_, {});
}

void RbdBackend::RecordNewWatchers(const rbd::IoCtx& io, const std::string& image,
                                   const std::vector<std::string>& before) {
  try {
    std::vector<std::string> added;
    for (const auto& address :
         rbd::Image(io, image, rbd::Image::Mode::kReadOnly).WatcherAddresses()) {
      if (std::find(before.begin(), before.end(), address) == before.end()) {
        added.push_back(address);
      }
    }
    rbd::RecordMappers(io, image, host_id_, added);
  } catch (const Error& e) {
    // Only fencing needs it, and fencing still blocklists the lock holder without it.
    spdlog::warn("cannot record the mapper clients of {}: {}", image, e.what());
  }
}

namespace {

// The integer settings and their allowed ranges.
struct IntegerKey {
  const char* key;
  int64_t min;
  int64_t max;
  const char* what;
};
constexpr IntegerKey kIntegerKeys[] = {
    {"op_timeout_seconds", 1, 3600, "a number of seconds from 1 to 3600"},
    {"takeover_grace_seconds", 1, 3600, "a number of seconds from 1 to 3600"},
    {"fence_seconds", 60, 10LL * 365 * 24 * 3600, "a number of seconds from 60 to 315360000"},
};

}  // namespace

RbdSettings ParseRbdSettings(const BackendConfig& config) {
  static const std::set<std::string> known = {"type",           "conf",
                                              "user",           "keyring",
                                              "pool",           "mapper",
                                              "features",       "default_size",
                                              "default_fstype", "op_timeout_seconds",
                                              "takeover",       "takeover_grace_seconds",
                                              "fence_seconds"};
  for (const auto& [key, value] : config.settings.items()) {
    if (!known.contains(key)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown key '" + key + "' in rbd backend '" + config.name +
                      "'; allowed: conf, user, keyring, pool, mapper, features, default_size, "
                      "default_fstype, op_timeout_seconds, takeover, takeover_grace_seconds, "
                      "fence_seconds");
    }
    // Checked here so a wrong JSON type is a config error, not a json::type_error later.
    std::string expected = "a string";
    bool ok = value.is_string();
    if (key == "takeover") {
      expected = "true or false";
      ok = value.is_boolean();
    }
    for (const auto& k : kIntegerKeys) {
      if (key == k.key) {
        expected = k.what;
        ok = value.is_number_integer() && value.get<int64_t>() >= k.min &&
             value.get<int64_t>() <= k.max;
      }
    }
    if (!ok) {
      throw Error(ErrorCode::kInvalidArgument,
                  "key '" + key + "' in rbd backend '" + config.name + "' must be " + expected);
    }
  }
  RbdSettings settings;
  settings.conf = config.settings.value("conf", "/etc/ceph/ceph.conf");
  settings.user = config.settings.value("user", settings.user);
  settings.keyring = config.settings.value("keyring", "");
  settings.pool = config.settings.value("pool", settings.pool);
  settings.mapper = config.settings.value("mapper", settings.mapper);
  settings.op_timeout_seconds = config.settings.value("op_timeout_seconds", 30);
  settings.takeover = config.settings.value("takeover", settings.takeover);
  settings.takeover_grace_seconds =
      config.settings.value("takeover_grace_seconds", settings.takeover_grace_seconds);
  settings.fence_seconds = config.settings.value("fence_seconds", settings.fence_seconds);
  rbd::MakeMapper(settings.mapper == "auto" ? "krbd" : settings.mapper);  // validates the name
  auto invalid = [&](const std::string& what) {
    return Error(ErrorCode::kInvalidArgument, "rbd backend '" + config.name + "': " + what);
  };
  for (const auto& [key, path] :
       {std::pair{"conf", settings.conf}, {"keyring", settings.keyring}}) {
    if (!path.empty() && !path.starts_with('/')) {
      throw invalid(std::string(key) + " must be an absolute path, not '" + path + "'");
    }
  }
  // librados takes the id and adds "client." itself: "client.admin" would log in as
  // client.client.admin, and fail only once berthd first talks to the cluster.
  if (settings.user.starts_with("client.")) {
    throw invalid("user is the Ceph id without \"client.\" (\"" + settings.user.substr(7) +
                  "\", not \"" + settings.user + "\")");
  }
  return settings;
}

RbdBackend::RbdBackend(RbdSettings settings, std::string host_id, std::string instance_id)
    : settings_(std::move(settings)),
      host_id_(std::move(host_id)),
      instance_id_(std::move(instance_id)) {}

rbd::LockOwner RbdBackend::Owner(const std::string& volume) const {
  return {host_id_, instance_id_, volume};
}

thread_local RbdBackend::Pinned RbdBackend::pinned_;

rbd::ClusterOptions RbdBackend::ClientOptions() const {
  return {settings_.conf, settings_.user, settings_.keyring,
          std::chrono::seconds(settings_.op_timeout_seconds), settings_.key};
}

std::shared_ptr<RbdBackend::Connection> RbdBackend::CurrentConnection() {
  if (pinned_.backend == this && pinned_.connection) {
    return pinned_.connection;
  }
  std::lock_guard lock(mu_);
  if (!connection_) {
    auto connection = std::make_shared<Connection>();
    connection->cluster = rbd::Cluster::Connect(ClientOptions());
    connection->address = connection->cluster->Address();
    spdlog::info("Ceph client for pool {} connected as client.{} at {}", settings_.pool,
                 settings_.user, connection->address);
    connection_ = std::move(connection);
  }
  return connection_;
}

void RbdBackend::ReplaceFencedConnection(const std::shared_ptr<Connection>& fenced) {
  std::lock_guard lock(mu_);
  if (connection_ != fenced) {
    return;  // another call found it first
  }
  connection_.reset();
  ++fenced_clients_;
  spdlog::warn(
      "AUDIT: this host's Ceph client at {} (pool {}) was fenced (blocklisted); berth never uses "
      "it again and connects a new client for the next call. A volume taken over from this host "
      "meanwhile had its mapper fenced too, and its writes here fail: stop that workload here",
      fenced->address, settings_.pool);
}

template <typename Fn>
auto RbdBackend::Guarded(Retry retry, Fn&& fn) -> decltype(fn()) {
  if (pinned_.backend == this) {
    return fn();  // called by another backend call, which handles a fence
  }
  // Another backend's call may have made this one: its pin is restored, not dropped.
  struct Restore {
    Pinned saved = pinned_;
    ~Restore() { pinned_ = std::move(saved); }
  };
  for (int attempt = 0;; ++attempt) {
    Restore restore;
    pinned_.connection = CurrentConnection();
    pinned_.backend = this;
    try {
      return fn();
    } catch (const Error& e) {
      if (e.system_errno() != ESHUTDOWN) {  // Ceph's EBLOCKLISTED
        throw;
      }
      ReplaceFencedConnection(pinned_.connection);
      if (retry == Retry::kNo || attempt > 0) {
        throw Error(ErrorCode::kUnavailable,
                    std::string(e.what()) +
                        " (this host's Ceph client was fenced; berth has dropped it and "
                        "connects a new one: retry)");
      }
    }
  }
}

rbd::Cluster& RbdBackend::cluster() { return *CurrentConnection()->cluster; }

const rbd::IoCtx& RbdBackend::Pool(const std::string& pool) {
  const auto connection = CurrentConnection();
  std::lock_guard lock(connection->mu);
  auto& slot = connection->pools[pool];
  if (!slot) {
    slot = std::make_unique<rbd::IoCtx>(connection->cluster->OpenPool(pool));
  }
  return *slot;
}

bool RbdBackend::LockWithOwnClient(const rbd::IoCtx& io, const VolumeSpec& spec) {
  if (!rbd::ListLockHolders(io, spec.image).empty()) {
    // Ours already (kept), or another's (refused): no lock to take, so no client to make.
    return rbd::AcquireLock(io, spec.image, spec.name, Owner(spec.name));
  }
  const auto client = rbd::Cluster::Connect(ClientOptions());
  return rbd::AcquireLock(client->OpenPool(spec.pool), spec.image, spec.name, Owner(spec.name));
}

std::optional<VolumeRecord> RbdBackend::Lookup(const std::string& name) {
  return Guarded(Retry::kOnce, [&]() -> std::optional<VolumeRecord> {
    auto text = rbd::Registry(Pool(settings_.pool)).Get(name);
    if (!text) {
      return std::nullopt;
    }
    auto record = RecordFromString(name, *text);
    record.stored = *text;
    return record;
  });
}

std::vector<VolumeRecord> RbdBackend::List() {
  return Guarded(Retry::kOnce, [&]() -> std::vector<VolumeRecord> {
    std::vector<VolumeRecord> records;
    for (const auto& [name, text] : rbd::Registry(Pool(settings_.pool)).List()) {
      try {
        records.push_back(RecordFromString(name, text));
        records.back().stored = text;
      } catch (const Error& e) {
        spdlog::warn("skipping registry entry: {}", e.what());
      }
    }
    return records;
  });
}

bool RbdBackend::RegisterNew(VolumeRecord& record) {
  return Guarded(Retry::kNo, [&]() -> bool {
    const std::string text = RecordToString(record);
    if (!rbd::Registry(Pool(settings_.pool)).PutNew(record.spec.name, text)) {
      return false;
    }
    record.stored = text;
    return true;
  });
}

bool RbdBackend::UpdateRecord(const VolumeRecord& read, VolumeRecord& updated) {
  return Guarded(Retry::kNo, [&]() -> bool {
    const std::string text = RecordToString(updated);
    if (read.stored.empty() ||
        !rbd::Registry(Pool(settings_.pool)).Replace(read.spec.name, read.stored, text)) {
      return false;
    }
    updated.stored = text;
    return true;
  });
}

void RbdBackend::Unregister(const VolumeRecord& record) {
  return Guarded(Retry::kNo, [&]() -> void {
    const std::string& name = record.spec.name;
    rbd::Registry registry(Pool(settings_.pool));
    const auto expected =
        record.stored.empty() ? std::nullopt : std::optional<std::string>(record.stored);
    if (!registry.Remove(name, expected)) {
      spdlog::warn("volume {} changed in the registry meanwhile; its entry is left", name);
      return;
    }
    // A Create that failed after claiming its image leaves no claim behind.
    rbd::ReleaseClaim(Pool(record.spec.pool), rbd::ImageClaim(record.spec.image), ClaimOwner(name));
  });
}

std::string RbdBackend::ClaimOwner(const std::string& volume) const {
  return settings_.pool + "/" + volume;
}

namespace {

Error OwnedByAnother(const VolumeSpec& spec, const std::string& owner) {
  return Error(ErrorCode::kConflict,
               "RBD image " + spec.pool + "/" + spec.image + " belongs to volume " + owner +
                   " (registry pool/volume); volume " + spec.name +
                   " cannot use it too: two volumes on one image would mount one filesystem "
                   "twice. Use that volume, or give this one another image");
}

}  // namespace

void RbdBackend::CheckHostClaim() {
  if (host_claimed_) {
    return;
  }
  const auto& io = Pool(settings_.pool);
  const std::string holder = rbd::Claim(io, rbd::HostClaim(host_id_), instance_id_);
  if (holder != instance_id_) {
    throw HostIdTakenError(host_id_, "on this Ceph cluster", holder, instance_id_);
  }
  host_claimed_ = true;
}

void RbdBackend::ForgetHost(const std::string& host_id) {
  return Guarded(Retry::kNo, [&]() -> void {
    rbd::ForgetClaim(Pool(settings_.pool), rbd::HostClaim(host_id));
    if (host_id == host_id_) {
      host_claimed_ = false;
    }
  });
}

void RbdBackend::EnsureClaim(const rbd::IoCtx& io, const VolumeSpec& spec) {
  const std::string me = ClaimOwner(spec.name);
  if (const std::string holder = rbd::Claim(io, rbd::ImageClaim(spec.image), me); holder != me) {
    throw OwnedByAnother(spec, holder);
  }
}

void RbdBackend::CheckNewStorage(VolumeRecord& record, bool size_given) {
  return Guarded(Retry::kNo, [&]() -> void {
    auto& spec = record.spec;
    const auto& io = Pool(spec.pool);
    if (auto owner = rbd::ClaimHolder(io, rbd::ImageClaim(spec.image));
        owner && *owner != ClaimOwner(spec.name)) {
      throw OwnedByAnother(spec, *owner);
    }
    // Volumes of an older berth own their images without a claim (they claim on first attach).
    for (const auto& other : List()) {
      if (other.spec.name != spec.name && other.spec.pool == spec.pool &&
          other.spec.image == spec.image) {
        throw OwnedByAnother(spec, ClaimOwner(other.spec.name));
      }
    }
    const bool exists = rbd::ImageExists(io, spec.image);
    if (spec.adopted && !exists) {
      throw Error(ErrorCode::kNotFound,
                  "cannot adopt RBD image " + spec.pool + "/" + spec.image + ": it does not exist");
    }
    if (spec.adopted) {
      const uint64_t actual = rbd::Image(io, spec.image, rbd::Image::Mode::kReadOnly).Size();
      if (size_given && actual != spec.size_bytes) {
        throw Error(ErrorCode::kConflict, "RBD image " + spec.pool + "/" + spec.image + " is " +
                                              FormatSize(actual) + ", not " +
                                              FormatSize(spec.size_bytes) +
                                              "; leave out size= to adopt it as it is");
      }
      spec.size_bytes = actual;
    }
    if (!spec.adopted && exists) {
      throw Error(ErrorCode::kConflict, "RBD image " + spec.pool + "/" + spec.image +
                                            " already exists but is not a berth volume; pass "
                                            "image=" +
                                            spec.image + " to adopt it");
    }
  });
}

void RbdBackend::EnsureStorage(const VolumeRecord& record) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& spec = record.spec;
    const auto& io = Pool(spec.pool);
    // Before the image: of two volumes created at once on one image, only one gets here.
    EnsureClaim(io, spec);
    if (rbd::ImageExists(io, spec.image)) {
      return;
    }
    if (spec.adopted) {
      throw Error(ErrorCode::kNotFound, "adopted RBD image " + spec.pool + "/" + spec.image +
                                            " of volume " + spec.name + " no longer exists");
    }
    rbd::CreateImage(io, spec.image, spec.size_bytes, rbd::ParseFeatures(spec.features),
                     rbd::ObjectSizeOrder(spec.object_size));
    spdlog::info("created RBD image {}/{} ({} bytes)", spec.pool, spec.image, spec.size_bytes);
  });
}

void RbdBackend::DeleteStorage(const VolumeRecord& record) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& spec = record.spec;
    const auto& io = Pool(spec.pool);
    if (spec.adopted) {
      spdlog::info("volume {} adopted {}/{}; the image is kept", spec.name, spec.pool, spec.image);
    } else {
      // Snapshots would be lost with the image: the operator removes them, by name, first.
      if (rbd::ImageExists(io, spec.image)) {
        if (const size_t snaps =
                rbd::Image(io, spec.image, rbd::Image::Mode::kReadOnly).SnapshotCount();
            snaps > 0) {
          throw Error(ErrorCode::kBusy,
                      "volume " + spec.name + " has " + std::to_string(snaps) +
                          " snapshot(s), which removing it would destroy; remove them first: "
                          "berthctl snapshot ls " +
                          spec.name + ", then berthctl snapshot rm " + spec.name +
                          "@SNAPSHOT for each");
        }
      }
      rbd::RemoveImage(io, spec.image, /*force=*/false);
      FaultPoint("remove.image_deleted");
      rbd::RemoveLockObject(io, spec.image);
    }
    rbd::ReleaseClaim(io, rbd::ImageClaim(spec.image), ClaimOwner(spec.name));
  });
}

Attachment RbdBackend::Attach(const VolumeRecord& record, bool read_only,
                              const std::string& work_dir, const std::string& /*mount_point*/) {
  return Guarded(Retry::kNo, [&]() -> Attachment {
    const auto& spec = record.spec;
    const auto& io = Pool(spec.pool);
    if (!rbd::ImageExists(io, spec.image)) {
      throw Error(ErrorCode::kNotFound, "RBD image " + spec.pool + "/" + spec.image +
                                            " of volume " + spec.name + " does not exist");
    }
    CheckHostClaim();
    EnsureClaim(io, spec);
    UndoOnFailure undo("attach of volume " + spec.name);
    if (!read_only) {
      // Released on failure only when this attach took it: a lock this installation held
      // already belongs to whatever took it, and this attach's errors must not break it.
      if (AcquireOrTakeOver(io, spec)) {
        undo.Add([&] { rbd::ReleaseLock(io, spec.image, Owner(spec.name)); });
      }
      ForgetMappers(io, spec.image);
      FaultPoint("attach.locked");
    }
    auto mapper = rbd::MakeMapper(settings_.mapper);
    rbd::MapRequest request{settings_.conf, settings_.user, settings_.keyring, "",
                            spec.pool,      spec.image,     read_only,         work_dir};
    std::optional<rbd::KeyFile> keyfile;
    if (!settings_.key.empty()) {
      keyfile.emplace(work_dir, settings_.key);
      request.keyfile = keyfile->path();
    }
    std::vector<std::string> watchers_before;
    if (!read_only) {
      watchers_before = rbd::Image(io, spec.image, rbd::Image::Mode::kReadOnly).WatcherAddresses();
    }
    auto mapped = mapper->Map(request);  // the key file goes once the mapper has started
    FaultPoint("attach.mapped");
    if (!read_only) {
      RecordNewWatchers(io, spec.image, watchers_before);
    }
    spdlog::info("mapped {}/{} with {} at {}", spec.pool, spec.image, mapped.mapper, mapped.device);
    return {mapped.device, false, MappedToJson(mapped, spec, !read_only)};
  });
}

bool RbdBackend::AcquireOrTakeOver(const rbd::IoCtx& io, const VolumeSpec& spec) {
  try {
    return LockWithOwnClient(io, spec);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kBusy || !settings_.takeover) {
      throw;
    }
    const auto holders = rbd::ListLockHolders(io, spec.image);
    if (holders.size() != 1 || holders.front().host_id.empty()) {
      throw;  // not a berth host's lock (or gone meanwhile): never taken over
    }
    if (!TakeOver(io, spec, holders.front(), e)) {
      throw;
    }
  }
  return LockWithOwnClient(io, spec);
}

bool RbdBackend::TakeOver(const rbd::IoCtx& io, const VolumeSpec& spec,
                          const rbd::LockHolder& holder, const Error& refusal) {
  using Clock = std::chrono::steady_clock;
  // The holder's I/O goes through the mapper clients it recorded when it attached. Without
  // that record there is nothing certain to fence, so the volume is not taken over.
  const auto mappers = rbd::RecordedMappers(io, spec.image, holder.host_id);
  if (mappers.empty()) {
    throw Error(ErrorCode::kBusy, std::string(refusal.what()) +
                                      " (no mapper of that host is recorded, so berth cannot "
                                      "fence it and will not take the volume over)");
  }
  const auto holder_watches = [&] {
    for (const auto& address :
         rbd::Image(io, spec.image, rbd::Image::Mode::kReadOnly).WatcherAddresses()) {
      if (address == holder.address ||
          std::find(mappers.begin(), mappers.end(), address) != mappers.end()) {
        return true;
      }
    }
    return false;
  };
  const auto same_holder = [&] {
    const auto now = rbd::ListLockHolders(io, spec.image);
    return now.size() == 1 && now.front().client == holder.client &&
           now.front().cookie == holder.cookie;
  };
  if (holder_watches()) {
    return false;  // alive: the refusal stands
  }
  const auto grace = std::chrono::seconds(settings_.takeover_grace_seconds);
  spdlog::warn(
      "volume {}: host {} holds its lock but none of its mappers watches the image; taking it "
      "over in {}s unless one comes back",
      spec.name, holder.host_id, grace.count());
  for (const auto deadline = Clock::now() + grace; Clock::now() < deadline;) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(500), deadline - Clock::now()));
    if (!same_holder()) {
      return true;  // released or taken meanwhile: let AcquireLock decide again
    }
    if (holder_watches()) {
      spdlog::info("volume {}: host {} is watching the image again; not taking it over", spec.name,
                   holder.host_id);
      return false;
    }
  }
  // Fence first: once the lock is broken this host writes, so the old one must not be able to.
  std::vector<std::string> fenced = {holder.address};
  fenced.insert(fenced.end(), mappers.begin(), mappers.end());
  for (const auto& address : fenced) {
    try {
      cluster().Blocklist(address, static_cast<uint32_t>(settings_.fence_seconds));
    } catch (const Error& e) {
      throw Error(ErrorCode::kBusy, std::string(refusal.what()) + "; its mappers are gone but " +
                                        "fencing it failed (" + e.what() +
                                        "), so berth will not take the volume over");
    }
  }
  if (!same_holder()) {
    return true;
  }
  rbd::BreakLock(io, spec.image, holder);
  spdlog::warn(
      "AUDIT: volume {} taken over from host {} ({} at {}) after {}s without a watch; fenced {} "
      "for {}s",
      spec.name, holder.host_id, holder.client, holder.address, grace.count(), Join(fenced, ", "),
      settings_.fence_seconds);
  return true;
}

void RbdBackend::Detach(const VolumeRecord& record, const nlohmann::json& attachment_state) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto mapped = MappedFromJson(attachment_state);
    if (!mapped.mapper.empty()) {
      rbd::MakeMapper(mapped.mapper)->Unmap(mapped);
      FaultPoint("detach.unmapped");
    }
    if (attachment_state.value("locked", false)) {
      const auto& spec = record.spec;
      rbd::ReleaseLock(Pool(spec.pool), spec.image, Owner(spec.name));
    }
  });
}

void RbdBackend::UndoAttach(const VolumeRecord& record, bool read_only,
                            const std::string& work_dir) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& spec = record.spec;
    const rbd::MapRequest request{settings_.conf, settings_.user, settings_.keyring, "",
                                  spec.pool,      spec.image,     read_only,         work_dir};
    // Which mapper `auto` chose is not recorded yet: ask each one this host has.
    for (const std::string name : {"krbd", "nbd", "fuse"}) {
      if (auto mapper = rbd::MakeMapper(name); mapper->Available()) {
        mapper->UnmapAbandoned(request);
      }
    }
    if (!read_only) {
      rbd::ReleaseLock(Pool(spec.pool), spec.image, Owner(spec.name));
    }
  });
}

bool RbdBackend::AttachmentHealthy(const nlohmann::json& attachment_state,
                                   const std::string& /*mount_point*/) {
  const auto mapped = MappedFromJson(attachment_state);
  return !mapped.mapper.empty() && rbd::MakeMapper(mapped.mapper)->Healthy(mapped);
}

void RbdBackend::Grow(const VolumeRecord& record, uint64_t size) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& spec = record.spec;
    rbd::Image image(Pool(spec.pool), spec.image);
    image.Grow(size);
    spdlog::info("grew RBD image {}/{} to {} bytes", spec.pool, spec.image, size);
  });
}

void RbdBackend::RefreshAttachment(const VolumeRecord& record,
                                   const nlohmann::json& attachment_state, uint64_t size) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto mapped = MappedFromJson(attachment_state);
    if (!mapped.mapper.empty()) {
      // rbd-fuse's truncate resizes the image, shrinking included: never ask for less than the
      // image has (the registry may lag behind an `rbd resize`).
      const uint64_t actual =
          rbd::Image(Pool(record.spec.pool), record.spec.image, rbd::Image::Mode::kReadOnly).Size();
      rbd::MakeMapper(mapped.mapper)->Refresh(mapped, record.spec.image, std::max(size, actual));
    }
  });
}

std::vector<HolderInfo> RbdBackend::Holders(const VolumeRecord& record) {
  return Guarded(Retry::kOnce, [&]() -> std::vector<HolderInfo> {
    const auto& spec = record.spec;
    std::vector<HolderInfo> holders;
    for (const auto& h : rbd::ListLockHolders(Pool(spec.pool), spec.image)) {
      holders.push_back({h.host_id, h.client, h.address});
    }
    return holders;
  });
}

void RbdBackend::CreateSnapshot(const VolumeRecord& record, const std::string& snap,
                                const ProgressFn& /*progress*/) {
  return Guarded(Retry::kNo, [&]() -> void {
    rbd::CreateSnapshot(Pool(record.spec.pool), record.spec.image, snap);
  });
}

std::vector<SnapshotInfo> RbdBackend::ListSnapshots(const VolumeRecord& record) {
  return Guarded(Retry::kOnce, [&]() -> std::vector<SnapshotInfo> {
    std::vector<SnapshotInfo> out;
    for (const auto& s : rbd::ListSnapshots(Pool(record.spec.pool), record.spec.image)) {
      out.push_back({s.name, s.size, s.used_bytes, s.created, s.is_protected});
    }
    return out;
  });
}

void RbdBackend::RemoveSnapshot(const VolumeRecord& record, const std::string& snap) {
  return Guarded(Retry::kNo, [&]() -> void {
    rbd::RemoveSnapshot(Pool(record.spec.pool), record.spec.image, snap);
  });
}

void RbdBackend::Rollback(const VolumeRecord& record, const std::string& snap,
                          const ProgressFn& progress) {
  return Guarded(Retry::kNo, [&]() -> void {
    // The lock and the rollback's writes go through a client of the rollback's own, so a fence
    // of this volume meanwhile cuts off the client that writes it and nothing else.
    const auto client = rbd::Cluster::Connect(ClientOptions());
    const rbd::IoCtx io = client->OpenPool(record.spec.pool);
    const auto& image = record.spec.image;
    const auto fenced = [&](const Error& e) {
      return Error(
          ErrorCode::kUnavailable,
          "rollback of volume " + record.spec.name + " stopped: its Ceph client was " +
              "fenced (another host took the volume over, or an operator fenced it): " + e.what());
    };
    // Held for the whole rollback, so no host can attach read-write meanwhile; a read-only
    // mapper that appeared since the engine's check is caught here.
    if (!rbd::AcquireLock(io, image, record.spec.name, Owner(record.spec.name))) {
      // The engine checked that nothing is attached here: a lock of ours is left from an attach
      // whose state is gone. Not this rollback's to take over or to release.
      throw Error(ErrorCode::kBusy, "volume " + record.spec.name +
                                        " is still locked by this host with no attachment on "
                                        "record; run `berthctl health --fix`, then retry");
    }
    bool was_fenced = false;  // then the lock is no longer this client's to release
    {
      UndoOnFailure undo("rollback of volume " + record.spec.name);
      undo.Add([&] {
        if (!was_fenced) {
          rbd::ReleaseLock(io, image, Owner(record.spec.name));
        }
      });
      try {
        ForgetMappers(io, image);  // held with no mapper: nobody may mistake it for a dead attach
        if (auto watchers = rbd::Image(io, image, rbd::Image::Mode::kReadOnly).WatcherAddresses();
            !watchers.empty()) {
          throw Error(ErrorCode::kBusy, "volume " + record.spec.name + " was mapped by " +
                                            watchers[0] + " meanwhile; rollback not started");
        }
        rbd::RollbackSnapshot(io, image, snap, progress);
      } catch (const Error& e) {
        if (e.system_errno() == ESHUTDOWN) {
          was_fenced = true;
          throw fenced(e);
        }
        throw;
      }
    }
    rbd::ReleaseLock(io, image, Owner(record.spec.name));
  });
}

void RbdBackend::Clone(const VolumeRecord& record, const std::string& snap,
                       const VolumeRecord& clone, bool flatten, const ProgressFn& progress) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& clone_io = Pool(clone.spec.pool);
    EnsureClaim(clone_io, clone.spec);
    if (!rbd::ImageExists(clone_io, clone.spec.image)) {
      rbd::CloneSnapshot(Pool(record.spec.pool), record.spec.image, snap, clone_io,
                         clone.spec.image, rbd::ParseFeatures(clone.spec.features));
    }
    if (flatten) {
      rbd::Flatten(clone_io, clone.spec.image, progress);
    }
  });
}

std::vector<std::string> RbdBackend::Watchers(const VolumeRecord& record) {
  return Guarded(Retry::kOnce, [&]() -> std::vector<std::string> {
    rbd::Image image(Pool(record.spec.pool), record.spec.image, rbd::Image::Mode::kReadOnly);
    std::vector<std::string> out;
    for (const auto& w : image.Watchers()) {
      out.push_back(w.address);
    }
    return out;
  });
}

void RbdBackend::BreakLock(const VolumeRecord& record, const HolderInfo& holder, bool fence) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& io = Pool(record.spec.pool);
    if (fence) {
      // Fence before breaking: once the lock is gone another host may write, so the old holder
      // must already be unable to. The lock was taken by the holder's berth process; its I/O
      // goes through the mapper clients recorded at attach, so those are fenced too.
      std::vector<std::string> addresses = {holder.address};
      std::vector<std::string> mappers;
      if (!holder.host_id.empty()) {
        mappers = rbd::RecordedMappers(io, record.spec.image, holder.host_id);
      }
      if (mappers.empty()) {
        // Not recorded (an older berth, or the record failed): every client with the image open
        // may be the writer, so all are fenced. Read-only users elsewhere must remap.
        mappers = rbd::Image(io, record.spec.image, rbd::Image::Mode::kReadOnly).WatcherAddresses();
      }
      addresses.insert(addresses.end(), mappers.begin(), mappers.end());
      for (const auto& address : addresses) {
        cluster().Blocklist(address, static_cast<uint32_t>(settings_.fence_seconds));
        spdlog::warn("fenced client {} (host {}) of volume {}", address,
                     holder.host_id.empty() ? "unknown" : holder.host_id, record.spec.name);
      }
    }
    for (const auto& h : rbd::ListLockHolders(io, record.spec.image)) {
      if (h.client == holder.client && h.address == holder.address) {
        rbd::BreakLock(io, record.spec.image, h);
        spdlog::warn("broke the lock of volume {} held by {} at {} (host {})", record.spec.name,
                     h.client, h.address, h.host_id.empty() ? "unknown" : h.host_id);
      }
    }
  });
}

}  // namespace berth::engine
