#include "fsutil/format_and_mount.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/step_trace.h"
#include "fsutil/fsck.h"
#include "fsutil/mkfs.h"
#include "fsutil/mount.h"
#include "fsutil/mountinfo.h"
#include "fsutil/probe.h"

namespace berth::fsutil {

namespace {

std::vector<std::string> EffectiveMountOptions(const FormatAndMountRequest& request) {
  std::vector<std::string> options = request.mount_options;
  if (request.fstype == "xfs") {
    // Clones and snapshots of an image carry the same filesystem UUID, and xfs refuses a second
    // mount of a UUID it already has mounted.
    options.emplace_back("nouuid");
  }
  if (request.read_only) {
    // Last, so it wins over a user "rw". Journal replay writes to the device, which may itself
    // be read-only (a read-only mapping, a snapshot), so skip it.
    options.emplace_back("ro");
    if (request.fstype == "ext4") {
      options.emplace_back("noload");
    } else if (request.fstype == "xfs") {
      options.emplace_back("norecovery");
    }
  }
  return options;
}

void MountVolume(const FormatAndMountRequest& request, const std::vector<std::string>& options) {
  spdlog::info("volume {}: mounting {} {} on {}{}", request.volume, request.fstype, request.device,
               request.mount_point, request.read_only ? " read-only" : "");
  Mount(request.device, request.mount_point, request.fstype, options);
  TraceStep("mount");
}

// True when `device` is already the topmost mount on the mount point, i.e. a retried call
// after the mount succeeded; mounting again would stack a second mount on top.
bool AlreadyMounted(const FormatAndMountRequest& request) {
  const auto mounts = ReadMountInfo();
  const auto top = FindMount(mounts, request.mount_point);
  if (!top) {
    return false;
  }
  for (const auto& entry : FindMountsOfSource(mounts, request.device)) {
    if (entry.id == top->id) {
      return true;
    }
  }
  throw Error(ErrorCode::kConflict, "volume " + request.volume + ": " + request.mount_point +
                                        " already has " + top->source + " (" + top->fstype +
                                        ") mounted on it, not " + request.device +
                                        "; unmount it first");
}

}  // namespace

FormatOutcome FormatAndMount(const FormatAndMountRequest& request,
                             const std::function<void()>& record_formatted) {
  if (!IsSupportedFilesystem(request.fstype)) {
    throw Error(ErrorCode::kInvalidArgument, "volume " + request.volume + ": filesystem type '" +
                                                 request.fstype +
                                                 "' is not supported; use ext4 or xfs");
  }
  const std::vector<std::string> mount_options = EffectiveMountOptions(request);
  // Bad mount options must fail before mkfs writes anything.
  ParseMountOptions(mount_options);

  const ProbeResult probe = Probe(request.device);
  TraceStep("probe");
  spdlog::info("volume {}: {} probes as {}", request.volume, request.device, Describe(probe));

  switch (probe.kind) {
    case ProbeResult::Kind::kBlank: {
      if (request.recorded_formatted) {
        throw Error(ErrorCode::kConflict,
                    "volume " + request.volume + " is recorded as formatted but " + request.device +
                        " probes blank; refusing to format it so no data is lost. Check the "
                        "image (rbd export) and the Ceph cluster's health");
      }
      if (request.read_only) {
        throw Error(ErrorCode::kConflict,
                    "volume " + request.volume + " has no filesystem yet (" + request.device +
                        " is blank) and is requested read-only, so berth cannot create one; "
                        "mount it read-write once first");
      }
      spdlog::info("volume {}: {} is blank and the volume was never formatted; creating {}",
                   request.volume, request.device, request.fstype);
      MakeFilesystem(request.fstype, request.device, request.mkfs_options);
      record_formatted();
      MountVolume(request, mount_options);
      return FormatOutcome::kFormattedNew;
    }

    case ProbeResult::Kind::kFilesystem: {
      if (probe.type != request.fstype) {
        throw Error(ErrorCode::kConflict,
                    "volume " + request.volume + " wants " + request.fstype + " but " +
                        request.device + " holds an existing " + probe.type +
                        " filesystem; berth never reformats it. Set the volume's fstype to " +
                        probe.type + " or move the data off it");
      }
      const bool mounted = AlreadyMounted(request);
      if (!mounted && !request.read_only) {
        CheckFilesystem(request.fstype, request.device);
        TraceStep("fsck");
      }
      if (!request.recorded_formatted) {
        spdlog::info("volume {}: adopting the existing {} filesystem on {} (uuid {})",
                     request.volume, probe.type, request.device, probe.uuid);
        record_formatted();
      }
      if (mounted) {
        spdlog::info("volume {}: {} is already mounted on {}", request.volume, request.device,
                     request.mount_point);
      } else {
        MountVolume(request, mount_options);
      }
      return FormatOutcome::kMountedExisting;
    }

    case ProbeResult::Kind::kPartitionTable:
    case ProbeResult::Kind::kOther:
      break;
  }
  throw Error(ErrorCode::kConflict,
              "volume " + request.volume + ": " + request.device + " holds a " + Describe(probe) +
                  ", not a " + request.fstype +
                  " filesystem; berth never formats over existing data. Inspect it with "
                  "`blkid -p " +
                  request.device + "` and `wipefs -n " + request.device +
                  "`, then move the data off it or use another image");
}

}  // namespace berth::fsutil
