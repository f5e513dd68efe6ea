#include "fsutil/loop_device.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

namespace berth::fsutil {

namespace {

using namespace std::chrono_literals;

constexpr int kAttachAttempts = 50;
constexpr auto kReleaseTimeout = 10s;
constexpr uint64_t kAlignment = 4096;

// "/dev/loop3" -> "loop3", or empty when `device` is not a loop device path.
std::string LoopName(const std::string& device) {
  std::error_code ec;
  auto resolved = std::filesystem::canonical(device, ec);
  std::string name = (ec ? std::filesystem::path(device) : resolved).filename().string();
  if (!name.starts_with("loop") || name.size() == 4 ||
      !std::all_of(name.begin() + 4, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return {};
  }
  return name;
}

std::string BackingFilePath(const std::string& loop_name) {
  return "/sys/block/" + loop_name + "/loop/backing_file";
}

// The file a loop device serves, or nothing when it serves none. A device detaches by itself
// (autoclear at its last close, or another detach) at any moment: sysfs then answers ENOENT for
// the attribute, or ENODEV/ENXIO for one opened just before. That is "not attached", not an
// error, for every caller: a detach that meets it has succeeded.
std::optional<std::string> ReadBackingFile(const std::string& loop_name) {
  const std::string path = BackingFilePath(loop_name);
  const auto gone = [](int err) { return err == ENOENT || err == ENODEV || err == ENXIO; };
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (gone(errno)) {
      return std::nullopt;
    }
    throw ErrnoError(-errno, "cannot read " + path);
  }
  std::string content;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      if (gone(errno)) {
        return std::nullopt;
      }
      throw ErrnoError(-errno, "cannot read " + path);
    }
    if (n == 0) {
      break;
    }
    content.append(buf, static_cast<size_t>(n));
  }
  while (!content.empty() && content.back() == '\n') {
    content.pop_back();
  }
  return content;
}

// Returns false when another process configured the device first (EBUSY).
bool TryConfigure(const std::string& device, int backing_fd, const std::string& backing_file,
                  uint64_t backing_bytes, bool read_only) {
  UniqueFd loop(::open(device.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!loop.valid()) {
    if (errno == ENOENT || errno == ENXIO) {
      // devtmpfs creates the node as the device is added; a racing LOOP_CTL_REMOVE deletes it.
      return false;
    }
    throw ErrnoError(-errno, "cannot open " + device);
  }
  loop_config config{};
  config.fd = static_cast<__u32>(backing_fd);
  config.info.lo_flags = read_only ? LO_FLAGS_READ_ONLY : 0;
  // Keep the size a multiple of 4 KiB so 4 KiB-block filesystems never see a partial block.
  const uint64_t aligned = backing_bytes / kAlignment * kAlignment;
  if (aligned > 0 && aligned != backing_bytes) {
    config.info.lo_sizelimit = aligned;
  }
  std::strncpy(reinterpret_cast<char*>(config.info.lo_file_name), backing_file.c_str(),
               LO_NAME_SIZE - 1);
  if (::ioctl(loop.get(), LOOP_CONFIGURE, &config) != 0) {
    const int err = errno;
    if (err == EBUSY) {
      return false;
    }
    if (err == EINVAL || err == ENOTTY) {
      throw ErrnoError(-err, "cannot attach " + backing_file + " to " + device +
                                 " with LOOP_CONFIGURE (needs Linux 5.8 or later)");
    }
    throw ErrnoError(-err, "cannot attach " + backing_file + " to " + device);
  }
  return true;
}

Error StillHeldError(const std::string& device) {
  return Error(ErrorCode::kBusy, device +
                                     " was detached but still holds its backing file after 10 s: "
                                     "something keeps it open (a mount? check findmnt " +
                                     device + " and fuser -v " + device + ")");
}

}  // namespace

std::string AttachLoop(const std::string& backing_file, bool read_only) {
  UniqueFd backing(::open(backing_file.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!backing.valid()) {
    throw ErrnoError(-errno, "cannot open " + backing_file + " to attach it to a loop device");
  }
  struct stat st {};
  if (::fstat(backing.get(), &st) != 0) {
    throw ErrnoError(-errno, "cannot stat " + backing_file);
  }
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control.valid()) {
    throw ErrnoError(-errno, "cannot open /dev/loop-control (is the loop module loaded?)");
  }
  for (int attempt = 0; attempt < kAttachAttempts; ++attempt) {
    const int number = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (number < 0) {
      throw ErrnoError(-errno, "cannot get a free loop device from /dev/loop-control");
    }
    std::string device = "/dev/loop" + std::to_string(number);
    if (TryConfigure(device, backing.get(), backing_file, static_cast<uint64_t>(st.st_size),
                     read_only)) {
      spdlog::info("attached {} to {}{}", backing_file, device, read_only ? " read-only" : "");
      return device;
    }
    // Another process took this device between GET_FREE and CONFIGURE; back off a little so
    // the racers spread out.
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + attempt % 10));
  }
  throw Error(ErrorCode::kBusy, "cannot attach " + backing_file +
                                    " to a loop device: " + std::to_string(kAttachAttempts) +
                                    " free devices were taken by other processes first");
}

void DetachLoop(const std::string& device) {
  const std::string name = LoopName(device);
  if (name.empty()) {
    throw Error(ErrorCode::kInvalidArgument, device + " is not a loop device");
  }
  {
    UniqueFd loop(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
    if (!loop.valid()) {
      if (errno == ENOENT || errno == ENXIO || errno == ENODEV) {
        return;  // the device is gone with its attachment
      }
      throw ErrnoError(-errno, "cannot open " + device + " to detach it");
    }
    const auto deadline = std::chrono::steady_clock::now() + 1s;
    while (::ioctl(loop.get(), LOOP_CLR_FD) != 0) {
      const int err = errno;
      if (err == ENXIO || err == ENODEV) {
        return;  // not attached (any more)
      }
      if (err == EBUSY && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
        continue;
      }
      throw ErrnoError(-err, "cannot detach " + device);
    }
  }
  // LOOP_CLR_FD on an open device only marks it for autoclear; the kernel drops the backing
  // file at the last close, which may be later than ours (udev, blkid, a lingering mount).
  const auto deadline = std::chrono::steady_clock::now() + kReleaseTimeout;
  while (ReadBackingFile(name)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw StillHeldError(device);
    }
    std::this_thread::sleep_for(20ms);
  }
  spdlog::info("detached {}", device);
}

std::optional<std::string> FindLoopByBackingFile(const std::string& backing_file) {
  std::error_code ec;
  const auto canonical = std::filesystem::weakly_canonical(backing_file, ec);
  const std::string wanted = ec ? backing_file : canonical.string();

  std::vector<std::pair<int, std::string>> loops;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("loop") && name.size() > 4 &&
        std::all_of(name.begin() + 4, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      loops.emplace_back(std::stoi(name.substr(4)), name);
    }
  }
  if (ec) {
    throw ErrnoError(-ec.value(), "cannot list /sys/block");
  }
  std::sort(loops.begin(), loops.end());
  for (const auto& [number, name] : loops) {
    // The sysfs path is already canonical (d_path); never resolve it, since it may lie in a FUSE
    // mount whose daemon is gone.
    if (auto backing = ReadBackingFile(name); backing && *backing == wanted) {
      return "/dev/" + name;
    }
  }
  return std::nullopt;
}

uint64_t RefreshLoopCapacity(const std::string& device) {
  UniqueFd loop(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
  if (!loop.valid()) {
    throw ErrnoError(-errno, "cannot open " + device + " to refresh its size");
  }
  if (::ioctl(loop.get(), LOOP_SET_CAPACITY, 0) != 0) {
    throw ErrnoError(-errno, "cannot refresh the size of " + device);
  }
  uint64_t bytes = 0;
  if (::ioctl(loop.get(), BLKGETSIZE64, &bytes) != 0) {
    throw ErrnoError(-errno, "cannot read the size of " + device);
  }
  return bytes;
}

std::optional<std::string> LoopBackingFile(const std::string& device) {
  const std::string name = LoopName(device);
  if (name.empty()) {
    throw Error(ErrorCode::kInvalidArgument, device + " is not a loop device");
  }
  return ReadBackingFile(name);
}

}  // namespace berth::fsutil
