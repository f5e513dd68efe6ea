#include "engine/volume_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "engine/volume_record.h"

namespace berth::engine {

namespace {

std::string ProcessName() { return Trim(ReadFileIfExists("/proc/self/comm").value_or("berth")); }

// "mount by berthd (pid 812) since 2026-12-03T11:02:03Z", from the holder's record.
std::string InFlight(int fd) {
  char buf[512];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  const std::string text = n > 0 ? Trim(std::string_view(buf, static_cast<size_t>(n))) : "";
  return text.empty() ? "another operation" : text;
}

}  // namespace

VolumeLock::VolumeLock(const std::string& state_dir, const std::string& volume,
                       std::string_view operation, std::chrono::milliseconds wait) {
  using Clock = std::chrono::steady_clock;
  const std::string dir = state_dir + "/locks";
  MakePrivateDirectory(dir);
  const std::string path = dir + "/" + volume + ".lock";
  fd_.Reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd_.valid()) {
    throw ErrnoError(-errno, "cannot open lock file " + path);
  }
  const auto deadline = Clock::now() + wait;
  auto pause = std::chrono::milliseconds(5);
  while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) {
      continue;
    }
    if (errno != EWOULDBLOCK) {
      throw ErrnoError(-errno, "cannot lock " + path);
    }
    if (Clock::now() >= deadline) {
      throw Error(
          ErrorCode::kBusy,
          "volume " + volume + " is busy: " + InFlight(fd_.get()) +
              " is still working "
              "on it, and this " +
              std::string(operation) + " waited " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(wait).count()) +
              "s; retry once it finishes");
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - Clock::now()));
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
  const std::string record = std::string(operation) + " by " + ProcessName() + " (pid " +
                             std::to_string(::getpid()) + ") since " + NowRfc3339() + "\n";
  if (::ftruncate(fd_.get(), 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(fd_.get(), record.data(), record.size(), 0);
  }
}

VolumeLock::~VolumeLock() {
  if (fd_.valid()) {
    [[maybe_unused]] const int rc = ::ftruncate(fd_.get(), 0);
  }
}

}  // namespace berth::engine
