#include "backends/nfs/mounters/kernel.h"

#include <netdb.h>
#include <sys/socket.h>

#include <fstream>
#include <memory>

#include "common/error.h"
#include "fsutil/mount.h"
#include "fsutil/mountinfo.h"

namespace berth::nfs {

namespace {

std::string Resolve(const std::string& server) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  if (int rc = getaddrinfo(server.c_str(), nullptr, &hints, &raw); rc != 0) {
    throw Error(ErrorCode::kUnavailable,
                "cannot resolve NFS server '" + server + "': " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> result(raw, freeaddrinfo);
  char host[NI_MAXHOST];
  if (getnameinfo(result->ai_addr, result->ai_addrlen, host, sizeof(host), nullptr, 0,
                  NI_NUMERICHOST) != 0) {
    throw Error(ErrorCode::kUnavailable, "cannot format the address of '" + server + "'");
  }
  return host;
}

}  // namespace

KernelMountArgs KernelMounter::Args(const NfsMountRequest& request, const std::string& address) {
  KernelMountArgs args;
  args.fstype = request.version == 4 ? "nfs4" : "nfs";
  args.source = request.server + ":" + request.export_path + request.directory;
  // The user's options first: the kernel takes the last of a repeated option, so what berth sets
  // after them (address, ports, version, timeout, nodev, nosuid and ro) always wins.
  args.options = request.options;
  args.options.push_back("addr=" + address);
  args.options.push_back("vers=" + std::to_string(request.version));
  args.options.push_back("proto=tcp");
  args.options.push_back("port=" + std::to_string(request.nfs_port));
  if (request.version == 3 && request.mount_port > 0) {
    args.options.push_back("mountport=" + std::to_string(request.mount_port));
    args.options.push_back("mountproto=tcp");
  }
  // timeo is in tenths of a second. The mount stays "hard" (the kernel default): a "soft"
  // mount turns a slow server into silently lost writes, the worst outcome for a database.
  // Users who prefer EIO add "soft" to mount_options.
  args.options.push_back("timeo=" + std::to_string(std::max(1, request.timeout_ms / 100)));
  args.options.push_back("nodev");
  if (!request.allow_suid) {
    args.options.push_back("nosuid");
  }
  if (request.read_only) {
    args.options.push_back("ro");
  }
  return args;
}

bool KernelMounter::Available() const {
  std::ifstream filesystems("/proc/filesystems");
  std::string line;
  while (std::getline(filesystems, line)) {
    if (line.find("\tnfs") != std::string::npos) {
      return true;
    }
  }
  return false;
}

NfsMounted KernelMounter::Mount(const NfsMountRequest& request) {
  const auto args = Args(request, Resolve(request.server));
  fsutil::Mount(args.source, request.mount_point, args.fstype, args.options);
  return {name(), 0, ""};
}

void KernelMounter::Release(const NfsMounted& /*mounted*/) {}

bool KernelMounter::Healthy(const NfsMounted& /*mounted*/, const std::string& mount_point) const {
  return fsutil::FindMount(fsutil::ReadMountInfo(), mount_point).has_value();
}

}  // namespace berth::nfs
