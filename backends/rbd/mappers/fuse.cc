#include "backends/rbd/mappers/fuse.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <utility>

#include "backends/rbd/mappers/command_mapper.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/files.h"
#include "common/step_trace.h"
#include "common/subprocess.h"
#include "fsutil/loop_device.h"
#include "fsutil/mount.h"
#include "fsutil/mountinfo.h"
#include "fsutil/probe.h"

namespace berth::rbd {

namespace {

using namespace std::chrono_literals;

constexpr auto kStartTimeout = 30s;
constexpr auto kExitTimeout = 5s;

std::string ImageFile(const MappedDevice& mapped, const std::string& image) {
  return mapped.fuse_dir + "/" + image;
}

std::string LogPath(const MapRequest& request) { return request.work_dir + "/rbd-fuse.log"; }
std::string PidPath(const MapRequest& request) { return request.work_dir + "/rbd-fuse.pid"; }

}  // namespace

std::vector<std::string> FuseMapper::FuseCommand(const MapRequest& request,
                                                 const std::string& fuse_dir) {
  std::vector<std::string> argv = {"rbd-fuse"};
  AppendCephArgs(request, argv);
  // -r exposes only this image; -f keeps it in the foreground of its own detached session so
  // the pid berth records is the process that serves I/O.
  argv.insert(argv.end(), {"-p", request.pool, "-r", request.image, fuse_dir, "-f"});
  return argv;
}

bool FuseMapper::ServesFuseDir(pid_t pid, const std::string& fuse_dir) {
  return ProcessRunsWith(pid, "rbd-fuse", fuse_dir);  // FuseCommand's argument of its own
}

bool FuseMapper::Available() const {
  return PathExists("/dev/fuse") && PathExists("/dev/loop-control") &&
         (PathExists("/usr/bin/rbd-fuse") || PathExists("/usr/local/bin/rbd-fuse"));
}

MappedDevice FuseMapper::Spawn(const MapRequest& request) {
  MappedDevice mapped{name(), "", 0, request.work_dir + "/fuse", request.pool, request.image};
  MakeDirectories(mapped.fuse_dir);
  if (fsutil::IsMountPoint(mapped.fuse_dir)) {
    // Left by a mapping whose record was lost; nothing can be using it without a record.
    spdlog::warn("unmounting a stale rbd-fuse mount at {}", mapped.fuse_dir);
    fsutil::Unmount(mapped.fuse_dir);
  }
  mapped.pid = SpawnDetached(FuseCommand(request, mapped.fuse_dir), LogPath(request));
  WriteFileAtomically(PidPath(request), std::to_string(mapped.pid) + "\n");
  return mapped;
}

void FuseMapper::Start(const MapRequest& request) {
  started_ = Spawn(request);
  TraceStep("rbd-fuse spawn");
}

MappedDevice FuseMapper::Map(const MapRequest& request) {
  MappedDevice mapped;
  if (started_ && started_->fuse_dir == request.work_dir + "/fuse") {
    mapped = *std::exchange(started_, std::nullopt);
  } else {
    mapped = Spawn(request);
  }
  const std::string log_path = LogPath(request);
  const std::string file = ImageFile(mapped, request.image);
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!PathExists(file)) {
    if (!ProcessAlive(mapped.pid) || std::chrono::steady_clock::now() > deadline) {
      Unmap(mapped);
      throw Error(ErrorCode::kUnavailable, "rbd-fuse could not expose " + request.pool + "/" +
                                               request.image + ": " + FileTail(log_path));
    }
    std::this_thread::sleep_for(2ms);
  }
  TraceStep("rbd-fuse start");
  try {
    mapped.device = fsutil::AttachLoop(file, request.read_only);
  } catch (...) {
    Unmap(mapped);
    throw;
  }
  TraceStep("loop attach");
  // The probe's regions of the image, asked of rbd-fuse now: the kernel's readahead sends them
  // as parallel FUSE reads and returns, and they wait in the image file's page cache (which the
  // loop device reads through) while berth writes its state and, for a FlexVolume or CSI
  // stage, while kubelet makes its next call. Opened after the loop device: rbd-fuse's files
  // drop their cache at every open.
  if (const UniqueFd image(::open(file.c_str(), O_RDONLY | O_CLOEXEC)); image.valid()) {
    fsutil::PrefetchProbeRegions(image.get());
  }
  return mapped;
}

void FuseMapper::Unmap(const MappedDevice& mapped) {
  if (!mapped.device.empty()) {
    // Device names are recycled: only detach the loop device if it still serves our file.
    auto backing = fsutil::LoopBackingFile(mapped.device);
    if (backing && backing->rfind(mapped.fuse_dir + "/", 0) == 0) {
      fsutil::DetachLoop(mapped.device);
    }
  }
  TraceStep("loop detach");
  fsutil::Unmount(mapped.fuse_dir);
  // rbd-fuse exits within milliseconds once the loop device has released the file. A recorded
  // pid that now names another volume's rbd-fuse (recycled after a reboot) is never signalled:
  // FuseCommand gives each rbd-fuse its own mount point as an argument.
  StopDetached(mapped.pid, "rbd-fuse", mapped.fuse_dir, kExitTimeout);
  TraceStep("rbd-fuse stop");
}

void FuseMapper::UnmapAbandoned(const MapRequest& request) {
  MappedDevice mapped{name(), "", 0, request.work_dir + "/fuse", request.pool, request.image};
  if (auto pid = ReadFileIfExists(PidPath(request))) {
    mapped.pid = static_cast<pid_t>(std::strtol(pid->c_str(), nullptr, 10));
  }
  // Started (Start) but not mounted yet: unmounting now would find nothing, and rbd-fuse would
  // mount right after and run on. Wait for its mount, or for it to exit, then stop it.
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (ServesFuseDir(mapped.pid, mapped.fuse_dir) && !fsutil::IsMountPoint(mapped.fuse_dir) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  // One loop device at most, normally; a bounded loop in case detaching one is deferred.
  for (int i = 0; i < 4; ++i) {
    auto loop = fsutil::FindLoopByBackingFile(ImageFile(mapped, request.image));
    if (!loop) {
      break;
    }
    spdlog::warn("detaching {}: it serves {} for an attach that never finished", *loop,
                 request.image);
    fsutil::DetachLoop(*loop);
  }
  Unmap(mapped);
}

void FuseMapper::Refresh(const MappedDevice& mapped, const std::string& image, uint64_t size) {
  const std::string file = ImageFile(mapped, image);
  if (::truncate(file.c_str(), static_cast<off_t>(size)) != 0) {
    throw ErrnoError(-errno, "cannot refresh the size rbd-fuse shows for " + file);
  }
  const uint64_t device_size = fsutil::RefreshLoopCapacity(mapped.device);
  spdlog::info("{} now shows {} bytes of {}", mapped.device, device_size, image);
}

bool FuseMapper::Healthy(const MappedDevice& mapped) const {
  if (!ServesFuseDir(mapped.pid, mapped.fuse_dir) || mapped.device.empty()) {
    return false;
  }
  auto backing = fsutil::LoopBackingFile(mapped.device);
  return backing && backing->rfind(mapped.fuse_dir + "/", 0) == 0;
}

}  // namespace berth::rbd
