// Attaching on this host: the lock, the mapper, and their undo.
#include "engine/rbd/rbd_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "backends/rbd/image.h"
#include "backends/rbd/keyfile.h"
#include "backends/rbd/lock.h"
#include "common/error.h"
#include "common/fault.h"
#include "common/step_trace.h"
#include "common/undo.h"
#include "engine/rbd/guarded.h"
#include "engine/rbd/mapped.h"

namespace berth::engine {

void RbdBackend::ForgetMappers(const rbd::IoCtx& io, const std::string& image) {
  // A takeover fences the mappers recorded for the lock's host. Those of an earlier attach are
  // stale: while the record is empty, another host refuses to take over instead of fencing the
  // wrong clients and breaking a lock that is in use (a rollback holds it without a mapper).
  rbd::RecordMappers(io, image, host_id_, {});
}

void RbdBackend::RecordNewWatchers(const rbd::IoCtx& io, const rbd::Image& image,
                                   const std::vector<std::string>& before) {
  try {
    std::vector<std::string> added;
    for (const auto& address : image.WatcherAddresses()) {
      if (std::find(before.begin(), before.end(), address) == before.end()) {
        added.push_back(address);
      }
    }
    rbd::RecordMappers(io, image.name(), host_id_, added);
  } catch (const Error& e) {
    // Only fencing needs it, and fencing still blocklists the lock holder without it.
    spdlog::warn("cannot record the mapper clients of {}: {}", image.name(), e.what());
  }
}

AttachResult RbdBackend::Attach(const VolumeRecord& record, bool read_only,
                                const std::string& work_dir, const std::string& /*mount_point*/) {
  return Guarded(Retry::kNo, [&]() -> AttachResult {
    const auto& spec = record.spec;
    const auto& io = Pool(spec.pool);
    // Opened once, read-only, for the check that it exists and both lists of its watchers.
    std::optional<rbd::Image> image;
    try {
      image.emplace(io, spec.image, rbd::Image::Mode::kReadOnly);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) {
        throw;
      }
      throw Error(ErrorCode::kNotFound, "RBD image " + spec.pool + "/" + spec.image +
                                            " of volume " + spec.name + " does not exist");
    }
    CheckHostClaim();
    EnsureClaim(io, spec);
    TraceStep("image and claim check");
    auto mapper = rbd::MakeMapper(settings_.mapper);
    rbd::MapRequest request{settings_.conf, settings_.user, settings_.keyring, "",
                            spec.pool,      spec.image,     read_only,         work_dir};
    std::optional<rbd::KeyFile> keyfile;
    if (!settings_.key.empty()) {
      keyfile.emplace(work_dir, settings_.key);
      request.keyfile = keyfile->path();
    }
    UndoOnFailure undo("attach of volume " + spec.name);  // after what its steps use
    std::vector<std::string> watchers_before;
    if (!read_only) {
      // Before the mapper starts: its client is the one that appears after.
      watchers_before = image->WatcherAddresses();
      TraceStep("watchers");
    }
    // rbd-fuse starts while the lock is taken: until Map gives it a block device, after the lock,
    // it reads the image's header and no data. A refused lock stops it again.
    mapper->Start(request);
    undo.Add([&] { mapper->UnmapAbandoned(request); });
    if (!read_only) {
      // Released on failure only when this attach took it: a lock this installation held
      // already belongs to whatever took it, and this attach's errors must not break it.
      if (AcquireOrTakeOver(io, spec)) {
        undo.Add([&] { ReleaseOwnLock(io, spec); });
      }
      TraceStep("lock");
      ForgetMappers(io, spec.image);
      TraceStep("mapper record");
      FaultPoint("attach.locked");
    }
    auto mapped = mapper->Map(request);  // the key file goes once the mapper has started
    // The next lock's client connects meanwhile, while this attach probes and mounts (not
    // while the mapper starts, which wants the same CPUs).
    ConnectLockClientAhead();
    FaultPoint("attach.mapped");
    if (!read_only) {
      RecordNewWatchers(io, *image, watchers_before);
      TraceStep("mapper record");
    }
    spdlog::info("mapped {}/{} with {} at {}", spec.pool, spec.image, mapped.mapper, mapped.device);
    return {ToAttachment(mapped, spec, !read_only), false};
  });
}

void RbdBackend::Detach(const VolumeRecord& record, const Attachment& attachment) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto mapped = MappedOf(attachment);
    if (!mapped.mapper.empty()) {
      rbd::MakeMapper(mapped.mapper)->Unmap(mapped);
      FaultPoint("detach.unmapped");
    }
    if (AttachmentHoldsLock(attachment)) {
      const auto& spec = record.spec;
      ReleaseOwnLock(Pool(spec.pool), spec);
      TraceStep("unlock");
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
      ReleaseOwnLock(Pool(spec.pool), spec);
    }
  });
}

bool RbdBackend::AttachmentHealthy(const Attachment& attachment,
                                   const std::string& /*mount_point*/) {
  const auto mapped = MappedOf(attachment);
  return !mapped.mapper.empty() && rbd::MakeMapper(mapped.mapper)->Healthy(mapped);
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

std::vector<HostTool> RbdBackend::HostTools() {
  std::vector<HostTool> tools;
  for (const std::string mapper : {"krbd", "nbd", "fuse"}) {
    tools.push_back({"mapper", mapper, rbd::MakeMapper(mapper)->Available()});
  }
  return tools;
}

void RbdBackend::SweepAttachDir(const std::string& attach_dir) {
  rbd::SweepOrphanedKeyFiles(attach_dir);
}

}  // namespace berth::engine
