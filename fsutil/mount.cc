#include "fsutil/mount.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "common/files.h"

namespace berth::fsutil {

namespace {

struct FlagOption {
  std::string_view name;
  unsigned long set;
  unsigned long clear;
};

// The flag options mount(8) turns into mount(2) flags instead of passing them to the filesystem.
constexpr std::array<FlagOption, 28> kFlagOptions{{
    {"defaults", 0, 0},
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"noatime", MS_NOATIME, 0},
    {"atime", 0, MS_NOATIME},
    {"nodiratime", MS_NODIRATIME, 0},
    {"diratime", 0, MS_NODIRATIME},
    {"relatime", MS_RELATIME, 0},
    {"norelatime", 0, MS_RELATIME},
    {"strictatime", MS_STRICTATIME, 0},
    {"nostrictatime", 0, MS_STRICTATIME},
    {"lazytime", MS_LAZYTIME, 0},
    {"nolazytime", 0, MS_LAZYTIME},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"dirsync", MS_DIRSYNC, 0},
    {"iversion", MS_I_VERSION, 0},
    {"noiversion", 0, MS_I_VERSION},
    {"silent", MS_SILENT, 0},
    {"loud", 0, MS_SILENT},
    {"nosymfollow", MS_NOSYMFOLLOW, 0},
    {"symfollow", 0, MS_NOSYMFOLLOW},
}};

// These change what a mount is rather than how a filesystem is mounted: a volume's options must
// never turn its mount into a bind of a host path or alter propagation of the host's mounts.
constexpr std::array<std::string_view, 12> kRefusedOptions{
    "bind",    "rbind",    "move",  "remount", "shared",     "rshared",
    "private", "rprivate", "slave", "rslave",  "unbindable", "runbindable"};

// Splits on commas outside double quotes, as mount(8) does for SELinux contexts
// (context="system_u:object_r:foo_t:s0:c1,c2").
std::vector<std::string> SplitItems(const std::string& option) {
  std::vector<std::string> items;
  std::string current;
  bool quoted = false;
  for (char c : option) {
    if (c == '"') {
      quoted = !quoted;
    }
    if (c == ',' && !quoted) {
      items.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  items.push_back(std::move(current));
  return items;
}

std::string JoinOptions(const std::vector<std::string>& options) {
  std::string out;
  for (const auto& o : options) {
    if (!out.empty()) {
      out += ',';
    }
    out += o;
  }
  return out;
}

std::string MountHint(int err) {
  switch (err) {
    case ENODEV:
      return " (the kernel does not support this filesystem type)";
    case EINVAL:
      return " (an option the filesystem does not accept, or a damaged filesystem; see dmesg)";
    case EBUSY:
      return " (the device is already mounted or in use)";
    case EROFS:
    case EACCES:
      return " (the device is read-only; mount it with read_only)";
    default:
      return "";
  }
}

Error StillBusyError(const std::string& target) {
  return Error(ErrorCode::kBusy,
               "cannot unmount " + target +
                   ": it is still in use after 2 s (a process has a file open or its working "
                   "directory there; find it with `fuser -vm " +
                   target + "`)");
}

}  // namespace

MountOptions ParseMountOptions(const std::vector<std::string>& options) {
  MountOptions parsed;
  for (const auto& option : options) {
    for (const auto& item : SplitItems(option)) {
      if (item.empty()) {
        throw Error(ErrorCode::kInvalidArgument,
                    "mount options '" + JoinOptions(options) + "' contain an empty item");
      }
      bool refused = item.starts_with("make-");
      for (std::string_view r : kRefusedOptions) {
        refused = refused || item == r;
      }
      if (refused) {
        throw Error(ErrorCode::kInvalidArgument,
                    "mount option '" + item +
                        "' is not allowed: it changes mount propagation, binds or remounts "
                        "instead of mounting the volume's filesystem");
      }
      bool is_flag = false;
      for (const auto& flag : kFlagOptions) {
        if (item == flag.name) {
          parsed.flags = (parsed.flags & ~flag.clear) | flag.set;
          is_flag = true;
          break;
        }
      }
      if (!is_flag) {
        if (!parsed.data.empty()) {
          parsed.data += ',';
        }
        parsed.data += item;
      }
    }
  }
  return parsed;
}

void Mount(const std::string& source, const std::string& target, const std::string& fstype,
           const std::vector<std::string>& options) {
  const MountOptions parsed = ParseMountOptions(options);
  MakeDirectories(target);
  spdlog::debug("mount -t {} -o {} {} {}", fstype, JoinOptions(options), source, target);
  if (::mount(source.c_str(), target.c_str(), fstype.c_str(), parsed.flags,
              parsed.data.empty() ? nullptr : parsed.data.c_str()) != 0) {
    const int err = errno;
    const std::string opts = options.empty() ? "defaults" : JoinOptions(options);
    // mount(2) answers EACCES for a read-only device: berth's request, not its privileges.
    const ErrorCode code = err == EACCES ? ErrorCode::kConflict : CodeForErrno(err);
    throw Error(code,
                "cannot mount " + source + " on " + target + " as " + fstype + " (options " + opts +
                    "): " + std::strerror(err) + MountHint(err),
                err);
  }
}

void BindMount(const std::string& source, const std::string& target, bool read_only) {
  struct stat source_stat {};
  if (::stat(source.c_str(), &source_stat) != 0) {
    throw ErrnoError(-errno, "cannot bind-mount " + source + ": it cannot be read");
  }
  if (S_ISDIR(source_stat.st_mode)) {
    MakeDirectories(target);
  } else {
    const size_t slash = target.find_last_of('/');
    if (slash != std::string::npos && slash > 0) {
      MakeDirectories(target.substr(0, slash));
    }
    const UniqueFd file(::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!file.valid()) {
      throw ErrnoError(-errno, "cannot make the file " + target + " to bind-mount " + source);
    }
  }
  spdlog::debug("mount --bind{} {} {}", read_only ? " -o ro" : "", source, target);
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    throw ErrnoError(-errno, "cannot bind-mount " + source + " on " + target);
  }
  if (read_only &&
      ::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    const int err = errno;
    ::umount2(target.c_str(), 0);
    throw ErrnoError(-err, "cannot make the bind mount " + target + " read-only");
  }
}

void Unmount(const std::string& target) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (true) {
    // UMOUNT_NOFOLLOW: a symlink planted where a mount was is not followed to unmount
    // whatever it points at; it is not a mount point, so there is nothing to unmount here.
    if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) {
      spdlog::debug("unmounted {}", target);
      return;
    }
    const int err = errno;
    if (err == EINVAL || err == ENOENT) {
      // Not a mount point (or gone): the unmount a retry is asking for has already happened.
      return;
    }
    if (err == EBUSY) {
      if (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
        continue;
      }
      throw StillBusyError(target);
    }
    throw ErrnoError(-err, "cannot unmount " + target);
  }
}

void SyncFilesystem(const std::string& mount_point) {
  UniqueFd fd(::open(mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    throw ErrnoError(-errno, "cannot open " + mount_point + " to sync it");
  }
  if (::syncfs(fd.get()) != 0) {
    throw ErrnoError(-errno, "cannot sync the filesystem at " + mount_point);
  }
}

}  // namespace berth::fsutil
