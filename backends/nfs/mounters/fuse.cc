#include "backends/nfs/mounters/fuse.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/error.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "fsutil/mount.h"
#include "fsutil/mountinfo.h"

namespace berth::nfs {

namespace {

using namespace std::chrono_literals;

// berth-nfs-fuse ships beside the binary that runs it (build/bin, /usr/bin).
std::string FuseBinary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = self.parent_path() / "berth-nfs-fuse";
    if (PathExists(beside.string())) {
      return beside.string();
    }
  }
  return "berth-nfs-fuse";  // PATH
}

std::string LogPath(const std::string& work_dir) { return work_dir + "/berth-nfs-fuse.log"; }

bool Mounted(const std::string& mount_point) {
  return fsutil::FindMount(fsutil::ReadMountInfo(), mount_point).has_value();
}

}  // namespace

std::string FuseMounter::Url(const NfsMountRequest& request) {
  std::string url = "nfs://" + request.server + request.export_path + request.directory +
                    "?nfsport=" + std::to_string(request.nfs_port);
  if (request.mount_port > 0) {
    url += "&mountport=" + std::to_string(request.mount_port);
  }
  return url;
}

std::vector<std::string> FuseMounter::Command(const NfsMountRequest& request,
                                              const std::string& binary) {
  std::vector<std::string> argv = {binary, "--url", Url(request), "--timeout-ms",
                                   std::to_string(request.timeout_ms)};
  if (request.read_only) {
    argv.push_back("--read-only");
  }
  if (request.allow_suid) {
    argv.push_back("--suid");
  }
  argv.insert(argv.end(), {"--log", LogPath(request.work_dir), request.mount_point});
  return argv;
}

bool FuseMounter::Available() const {
  return PathExists("/dev/fuse") &&
         (FuseBinary() != "berth-nfs-fuse" || PathExists("/usr/bin/berth-nfs-fuse") ||
          PathExists("/usr/local/bin/berth-nfs-fuse"));
}

NfsMounted FuseMounter::Mount(const NfsMountRequest& request) {
  MakeDirectories(request.mount_point, 0755);
  const std::string log = LogPath(request.work_dir);
  NfsMounted mounted{name(), SpawnDetached(Command(request, FuseBinary()), log), request.work_dir};
  WriteFileAtomically(request.work_dir + "/berth-nfs-fuse.pid", std::to_string(mounted.pid) + "\n");
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(request.timeout_ms) + 5s;
  while (!Mounted(request.mount_point)) {
    if (!ProcessAlive(mounted.pid) || std::chrono::steady_clock::now() > deadline) {
      Release(mounted);
      throw Error(ErrorCode::kUnavailable,
                  "berth-nfs-fuse could not mount " + Url(request) + ": " + FileTail(log));
    }
    std::this_thread::sleep_for(2ms);
  }
  return mounted;
}

bool FuseMounter::Serves(const NfsMounted& mounted) {
  // A record without the work dir (an older berth's) cannot be told from another volume's
  // process: never signalled, and it exits by itself once its mount is gone.
  return !mounted.work_dir.empty() &&
         ProcessRunsWith(mounted.pid, "berth-nfs-fuse", LogPath(mounted.work_dir));
}

void FuseMounter::Release(const NfsMounted& mounted) {
  // It exits by itself once its mount is gone; signals are the last resort, and never for a
  // record without the work dir (Serves).
  if (!mounted.work_dir.empty()) {
    StopDetached(mounted.pid, "berth-nfs-fuse", LogPath(mounted.work_dir), std::chrono::seconds(5));
  }
}

bool FuseMounter::Healthy(const NfsMounted& mounted, const std::string& mount_point) const {
  const bool runs =
      mounted.work_dir.empty() ? ProcessRuns(mounted.pid, "berth-nfs-fuse") : Serves(mounted);
  return runs && Mounted(mount_point);
}

}  // namespace berth::nfs
