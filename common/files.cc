#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

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
    if (::mkdir(current.c_str(), static_cast<mode_t>(mode)) != 0) {
      if (errno != EEXIST) {
        throw ErrnoError(-errno, "cannot create directory " + current.string());
      }
      continue;
    }
    // The umask narrows or widens nothing: berthd may be started with any (issue 7).
    if (::chmod(current.c_str(), static_cast<mode_t>(mode)) != 0) {
      throw ErrnoError(-errno, "cannot set the mode of directory " + current.string());
    }
  }
}

std::string RealPath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       std::free);
  if (!resolved) {
    throw ErrnoError(-errno, "cannot resolve the path " + path);
  }
  return resolved.get();
}

void MakePrivateDirectory(const std::string& path) {
  MakeDirectories(path, 0700);
  if (::chmod(path.c_str(), 0700) != 0) {
    throw ErrnoError(-errno, "cannot make directory " + path + " private (mode 0700)");
  }
}

void MakeMountDirectories(const std::string& root, const std::string& relative, int mode) {
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    throw ErrnoError(-errno, "cannot open directory " + root);
  }
  struct stat st {};
  if (::fstat(dir.get(), &st) != 0) {
    throw ErrnoError(-errno, "cannot stat " + root);
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char shown[8];
    std::snprintf(shown, sizeof shown, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw Error(ErrorCode::kConflict,
                root + " is writable by group or others (mode " + shown +
                    "), so anyone could plant a symlink there and redirect a mount; berth "
                    "mounts only below a directory only its owner can write (chmod go-w " +
                    root + ")");
  }
  std::vector<std::string> names;
  for (const auto& part : std::filesystem::path(relative)) {
    names.push_back(part.string());
    const std::string& name = names.back();
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
      throw Error(ErrorCode::kInvalidArgument, "path '" + relative + "' below " + root +
                                                   " must be plain names, without '/', '.' "
                                                   "or '..' components");
    }
  }
  std::string current = root;
  for (const auto& name : names) {
    current += "/" + name;
    const bool made = ::mkdirat(dir.get(), name.c_str(), static_cast<mode_t>(mode)) == 0;
    if (!made && errno != EEXIST) {
      throw ErrnoError(-errno, "cannot create directory " + current);
    }
    // O_NOFOLLOW: a symlink is refused (ELOOP), never followed.
    UniqueFd next(
        ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      if (errno == ELOOP || errno == ENOTDIR) {
        throw Error(ErrorCode::kConflict,
                    current +
                        " is a symbolic link or not a directory; berth mounts only on real "
                        "directories, so nothing is mounted through it. Remove it (it may have "
                        "been planted to redirect a mount outside " +
                        root + ")");
      }
      throw ErrnoError(-errno, "cannot open directory " + current);
    }
    if (::fstat(next.get(), &st) != 0) {
      throw ErrnoError(-errno, "cannot stat " + current);
    }
    if (st.st_uid != ::geteuid()) {
      throw Error(ErrorCode::kConflict, current + " is owned by uid " + std::to_string(st.st_uid) +
                                            ", not by berth (uid " + std::to_string(::geteuid()) +
                                            "); remove it, berth creates it again");
    }
    if (made && ::fchmod(next.get(), static_cast<mode_t>(mode)) != 0) {
      throw ErrnoError(-errno, "cannot set the mode of directory " + current);
    }
    dir = std::move(next);
  }
}

}  // namespace berth
