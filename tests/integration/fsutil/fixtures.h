// RAII helpers for fsutil integration tests: temp dirs, sparse images, loop devices and mounts
// that are cleaned up even when an assertion fails halfway through a test.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "common/subprocess.h"
#include "fsutil/loop_device.h"
#include "fsutil/mount.h"
#include "fsutil/mountinfo.h"

namespace berth::fsutil::testing {

inline constexpr uint64_t kMiB = 1024 * 1024;
// mkfs.xfs refuses filesystems smaller than 300 MiB.
inline constexpr uint64_t kXfsBytes = 300 * kMiB;

// Tests need root for loop devices and mount(2).
#define BERTH_REQUIRE_ROOT()                                            \
  do {                                                                  \
    if (::geteuid() != 0 || ::access("/dev/loop-control", F_OK) != 0) { \
      GTEST_SKIP() << "needs root and /dev/loop-control";               \
    }                                                                   \
  } while (0)

// Runs a host tool and fails loudly, with its output, if it does not exit 0.
inline CommandResult RunOk(const std::vector<std::string>& argv) {
  CommandResult result = RunCommand(argv);
  if (result.exit_code != 0) {
    throw std::runtime_error(JoinCommand(argv) + " exited " + std::to_string(result.exit_code) +
                             ": " + result.out + result.err);
  }
  return result;
}

inline void MakeSparseFile(const std::string& path, uint64_t bytes) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid() || ::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) {
    throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  }
}

inline std::string Sha256(const std::string& path) {
  const std::string out = RunOk({"sha256sum", path}).out;
  return out.substr(0, out.find(' '));
}

inline bool IsUnder(const std::string& path, const std::string& dir) {
  return path == dir || path.starts_with(dir + "/");
}

// A mkdtemp directory under /tmp. On destruction it first lazily unmounts anything still mounted
// below it and detaches loop devices backed by its files, so a failed test never leaves a mount
// behind and remove_all never walks into a mounted filesystem.
class TempDir {
 public:
  TempDir() {
    std::string templ = "/tmp/berth-fsutil-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      throw std::runtime_error(std::string("mkdtemp failed: ") + std::strerror(errno));
    }
    path_ = templ;
  }
  ~TempDir() {
    try {
      auto mounts = ReadMountInfo();
      std::reverse(mounts.begin(), mounts.end());
      for (const auto& m : mounts) {
        if (IsUnder(m.mount_point, path_)) {
          ::umount2(m.mount_point.c_str(), MNT_DETACH);
        }
      }
      for (const auto& entry : std::filesystem::directory_iterator("/sys/block")) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with("loop")) {
          continue;
        }
        auto backing = LoopBackingFile("/dev/" + name);
        if (backing && IsUnder(*backing, path_)) {
          DetachLoop("/dev/" + name);
        }
      }
      // Never follow into something still mounted: check again before deleting.
      for (const auto& m : ReadMountInfo()) {
        if (IsUnder(m.mount_point, path_)) {
          spdlog::error("leaving {} behind: {} is still mounted", path_, m.mount_point);
          return;
        }
      }
      std::filesystem::remove_all(path_);
    } catch (const std::exception& e) {
      spdlog::error("cleaning up {}: {}", path_, e.what());
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A loop device attached for the test and detached at the end of the scope.
class ScopedLoop {
 public:
  ScopedLoop(const std::string& backing_file, bool read_only)
      : device_(AttachLoop(backing_file, read_only)),
        backing_(std::filesystem::weakly_canonical(backing_file).string()) {}
  ~ScopedLoop() {
    try {
      // Only while it still serves our file: a test may have detached it, and tests run in
      // parallel, so the name may be another test's device by now.
      if (LoopBackingFile(device_) == backing_) {
        DetachLoop(device_);
      }
    } catch (const std::exception& e) {
      spdlog::error("cannot detach {}: {}", device_, e.what());
    }
  }
  ScopedLoop(const ScopedLoop&) = delete;
  ScopedLoop& operator=(const ScopedLoop&) = delete;

  const std::string& device() const { return device_; }

 private:
  std::string device_;
  std::string backing_;
};

// Unmounts `target` at the end of the scope (whether or not the test mounted it).
class ScopedUnmount {
 public:
  explicit ScopedUnmount(std::string target) : target_(std::move(target)) {}
  ~ScopedUnmount() {
    try {
      for (int i = 0; i < 4 && FindMount(ReadMountInfo(), target_); ++i) {
        Unmount(target_);
      }
    } catch (const std::exception& e) {
      spdlog::error("cannot unmount {}: {}", target_, e.what());
      ::umount2(target_.c_str(), MNT_DETACH);
    }
  }
  ScopedUnmount(const ScopedUnmount&) = delete;
  ScopedUnmount& operator=(const ScopedUnmount&) = delete;

 private:
  std::string target_;
};

inline size_t CountMountsOn(const std::string& target) {
  size_t count = 0;
  for (const auto& m : ReadMountInfo()) {
    count += m.mount_point == target ? 1 : 0;
  }
  return count;
}

// Expects `fn` to throw berth::Error with `code`, and returns the message for further checks.
template <typename Fn>
std::string ExpectError(Fn&& fn, ErrorCode code) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected berth::Error(" << ErrorCodeName(code) << ")";
  return {};
}

}  // namespace berth::fsutil::testing
