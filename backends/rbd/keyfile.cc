#include "backends/rbd/keyfile.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <boost/beast/core/detail/base64.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <random>

#include "common/error.h"
#include "common/fd.h"

namespace berth::rbd {

void ValidateCephxKey(const std::string& key) {
  const std::string hint =
      "; give the bare cephx key, the 40 characters after 'key =' in a keyring (ceph auth "
      "get-key client.NAME prints it)";
  // Brackets, spaces and line breaks are never in base64, and always in a keyring file.
  if (key.find_first_of("[ \t\n") != std::string::npos) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "the cephx key looks like a keyring file, not a key (the value is not shown)" + hint);
  }
  namespace b64 = boost::beast::detail::base64;
  std::string decoded(b64::decoded_size(key.size()) + 3, '\0');
  const auto [written, read] = b64::decode(decoded.data(), key.data(), key.size());
  // A cephx secret: type (2 bytes, 1 = AES), creation time (8), length (2, 16), then 16 bytes.
  // The decoder stops at the padding, which a 28-byte secret always has ("==").
  const size_t unpadded = key.find_last_not_of('=') + 1;
  const bool valid = read == unpadded && key.size() == 40 && unpadded == 38 && written == 28 &&
                     decoded[0] == 1 && decoded[1] == 0 && decoded[10] == 16 && decoded[11] == 0;
  if (!valid) {
    throw Error(ErrorCode::kInvalidArgument, "the cephx key is not a valid key (" +
                                                 std::to_string(key.size()) +
                                                 " characters; the value is not shown)" + hint);
  }
}

int SweepOrphanedKeyFiles(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& volume : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code inner;
    for (const auto& entry : std::filesystem::directory_iterator(volume.path(), inner)) {
      const std::string file = entry.path().filename().string();
      if (!file.starts_with(".key.")) {
        continue;
      }
      // .key.<pid>.<random>; a name without a pid (an older berth) is an orphan once it is old.
      const std::string rest = file.substr(5);
      const auto dot = rest.find('.');
      bool orphan = false;
      if (dot != std::string::npos && rest.find_first_not_of("0123456789") == dot && dot > 0) {
        const std::string pid = rest.substr(0, dot);
        orphan = !std::filesystem::exists("/proc/" + pid, inner);
      } else {
        const auto age = std::filesystem::file_time_type::clock::now() -
                         std::filesystem::last_write_time(entry.path(), inner);
        orphan = !inner && age > std::chrono::minutes(10);
      }
      if (orphan && std::filesystem::remove(entry.path(), inner)) {
        spdlog::warn("removed the orphaned key file {} (its process is gone)",
                     entry.path().string());
        ++removed;
      }
    }
  }
  return removed;
}

KeyFile::KeyFile(const std::string& dir, const std::string& key) {
  std::random_device random;
  for (int attempt = 0; attempt < 8 && path_.empty(); ++attempt) {
    const std::string candidate =
        dir + "/.key." + std::to_string(::getpid()) + "." + std::to_string(random());
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
