#include "engine/volume_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "common/error.h"
#include "common/files.h"

namespace berth::engine {

VolumeLock::VolumeLock(const std::string& state_dir, const std::string& volume) {
  const std::string dir = state_dir + "/locks";
  MakePrivateDirectory(dir);
  const std::string path = dir + "/" + volume + ".lock";
  fd_.Reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd_.valid()) {
    throw ErrnoError(-errno, "cannot open lock file " + path);
  }
  while (::flock(fd_.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      throw ErrnoError(-errno, "cannot lock " + path);
    }
  }
}

}  // namespace berth::engine
