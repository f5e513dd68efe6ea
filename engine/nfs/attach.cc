// Mounting a volume's directory on this host, and the per-host records of who has it mounted.
#include "engine/nfs/nfs_backend.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "backends/nfs/mounters/mounter.h"
#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "engine/nfs/export_layout.h"

namespace berth::engine {

namespace {

// The nfs backend's part of an attachment: which mounter serves it (and its process, with the
// work dir that tells that process from another volume's).
Attachment MounterAttachment(const std::string& mounter, pid_t pid, const std::string& work_dir) {
  return {"", {{"mounter", mounter}, {"pid", pid}, {"work_dir", work_dir}}};
}

nfs::NfsMounted MountedOf(const Attachment& attachment) {
  const auto& part = attachment.backend;
  if (!part.is_object()) {
    return {};
  }
  return {part.value("mounter", ""), part.value("pid", 0), part.value("work_dir", "")};
}

}  // namespace

AttachResult NfsBackend::Attach(const VolumeRecord& record, bool read_only,
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
  return {MounterAttachment(mounted.mounter, mounted.pid, mounted.work_dir), true};
}

void NfsBackend::Detach(const VolumeRecord& record, const Attachment& attachment) {
  if (const auto mounted = MountedOf(attachment); !mounted.mounter.empty()) {
    nfs::MakeNfsMounter(mounted.mounter)->Release(mounted);
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
  Attachment started = MounterAttachment("", 0, "");
  if (auto pid = ReadFileIfExists(work_dir + "/berth-nfs-fuse.pid")) {
    started = MounterAttachment("fuse", static_cast<pid_t>(std::strtol(pid->c_str(), nullptr, 10)),
                                work_dir);
  }
  Detach(record, started);
}

bool NfsBackend::AttachmentHealthy(const Attachment& attachment, const std::string& mount_point) {
  const auto mounted = MountedOf(attachment);
  return !mounted.mounter.empty() &&
         nfs::MakeNfsMounter(mounted.mounter)->Healthy(mounted, mount_point);
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

}  // namespace berth::engine
