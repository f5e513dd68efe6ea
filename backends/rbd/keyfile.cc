#include "backends/rbd/keyfile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "common/error.h"
#include "common/fd.h"

namespace berth::rbd {

KeyFile::KeyFile(const std::string& dir, const std::string& key) {
  std::random_device random;
  for (int attempt = 0; attempt < 8 && path_.empty(); ++attempt) {
    const std::string candidate = dir + "/.key." + std::to_string(random());
    UniqueFd fd(::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) {
      if (errno == EEXIST) {
        continue;
      }
      throw ErrnoError(-errno, "cannot create a temporary key file in " + dir);
    }
    path_ = candidate;
    const ssize_t written = ::write(fd.get(), key.data(), key.size());
    if (written != static_cast<ssize_t>(key.size())) {
      const int err = written < 0 ? errno : EIO;
      ::unlink(path_.c_str());
      throw ErrnoError(-err, "cannot write a temporary key file in " + dir);
    }
  }
  if (path_.empty()) {
    throw Error(ErrorCode::kInternal, "cannot pick a temporary key file name in " + dir);
  }
}

KeyFile::~KeyFile() { ::unlink(path_.c_str()); }

}  // namespace berth::rbd
