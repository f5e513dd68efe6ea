#include "fsutil/freeze.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/error.h"
#include "common/fd.h"

namespace berth::fsutil {

namespace {

UniqueFd OpenMountPoint(const std::string& mount_point, const char* purpose) {
  UniqueFd fd(::open(mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    throw ErrnoError(-errno, std::string("cannot open ") + mount_point + " to " + purpose + " it");
  }
  return fd;
}

}  // namespace

void Freeze(const std::string& mount_point) {
  UniqueFd fd = OpenMountPoint(mount_point, "freeze");
  if (::ioctl(fd.get(), FIFREEZE, 0) != 0) {
    const int err = errno;
    switch (err) {
      case EBUSY:
        throw Error(ErrorCode::kBusy, "cannot freeze " + mount_point +
                                          ": it is already frozen (another snapshot in progress, "
                                          "or run fsfreeze -u " +
                                          mount_point + ")");
      case EOPNOTSUPP:
        throw Error(ErrorCode::kInvalidArgument,
                    "cannot freeze " + mount_point + ": its filesystem does not support freezing");
      default:
        throw ErrnoError(-err, "cannot freeze " + mount_point);
    }
  }
  spdlog::info("froze {}", mount_point);
}

void Thaw(const std::string& mount_point) {
  UniqueFd fd = OpenMountPoint(mount_point, "thaw");
  if (::ioctl(fd.get(), FITHAW, 0) != 0) {
    const int err = errno;
    if (err == EINVAL) {
      // Not frozen: a repeated thaw has nothing left to do.
      spdlog::debug("{} was not frozen", mount_point);
      return;
    }
    throw ErrnoError(-err, "cannot thaw " + mount_point);
  }
  spdlog::info("thawed {}", mount_point);
}

ScopedFreeze::ScopedFreeze(std::string mount_point) : mount_point_(std::move(mount_point)) {
  Freeze(mount_point_);
}

ScopedFreeze::~ScopedFreeze() {
  try {
    Thaw(mount_point_);
  } catch (const std::exception& e) {
    spdlog::error(
        "cannot thaw {} after a snapshot; writes to it stay blocked until "
        "`fsfreeze -u {}` succeeds: {}",
        mount_point_, mount_point_, e.what());
  }
}

}  // namespace berth::fsutil
