#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "common/error.h"
#include "common/fd.h"

namespace berth {

namespace {

void WriteAll(int fd, const std::string& content, const std::string& path) {
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw ErrnoError(-errno, "cannot write " + path);
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace

void WriteFileAtomically(const std::string& path, const std::string& content, int mode) {
  const std::filesystem::path target(path);
  const std::string dir = target.parent_path().string();
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd.valid()) {
      throw ErrnoError(-errno, "cannot create " + temp);
    }
    try {
      WriteAll(fd.get(), content, temp);
    } catch (...) {
      ::unlink(temp.c_str());  // a full disk must not leave temp files behind
      throw;
    }
    if (::fsync(fd.get()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      throw ErrnoError(-err, "cannot fsync " + temp);
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    throw ErrnoError(-err, "cannot rename " + temp + " to " + path);
  }
  UniqueFd dir_fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid() || ::fsync(dir_fd.get()) != 0) {
    throw ErrnoError(-errno, "cannot fsync directory " + dir);
  }
}

std::optional<std::string> ReadFileIfExists(const std::string& path) {
  // open(2) and read(2) rather than ifstream: ifstream reports a directory as an empty file
  // and does not promise errno on failure.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw ErrnoError(-errno, "cannot read " + path);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw ErrnoError(-errno, "cannot read " + path);
    }
    if (n == 0) {
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void MakeDirectories(const std::string& path, int mode) {
  std::filesystem::path current;
  for (const auto& part : std::filesystem::path(path)) {
    current /= part;
    if (::mkdir(current.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
      throw ErrnoError(-errno, "cannot create directory " + current.string());
    }
  }
}

}  // namespace berth
