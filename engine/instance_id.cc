#include "engine/instance_id.h"

#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"

namespace berth::engine {

std::string RandomHex() {
  unsigned char bytes[16];
  size_t done = 0;
  while (done < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + done, sizeof bytes - done, 0);
    if (n < 0 && errno != EINTR) {
      throw ErrnoError(-errno, "cannot read random bytes from the kernel");
    }
    done += n > 0 ? static_cast<size_t>(n) : 0;
  }
  std::string hex;
  for (unsigned char b : bytes) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", b);
    hex += buf;
  }
  return hex;
}

bool IsInstanceId(const std::string& text) {
  return text.size() == 32 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string LoadOrCreateInstanceId(const std::string& state_dir) {
  MakePrivateDirectory(state_dir);
  const std::string path = state_dir + "/instance-id";
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (auto text = ReadFileIfExists(path)) {
      std::string id = Trim(*text);
      if (IsInstanceId(id)) {
        return id;
      }
      if (!id.empty()) {
        throw Error(ErrorCode::kInternal, path + " holds '" + id +
                                              "', not an instance id (32 hex digits); move it "
                                              "away only if no berth process uses this state dir");
      }
      // Empty: another process created it and has not written it yet.
      ::usleep(20000);
      continue;
    }
    // Written under a temporary name and linked into place: link(2) fails if the name exists,
    // so the first process wins and every other one reads its id.
    std::string id = RandomHex();
    const std::string temp = path + ".tmp." + std::to_string(::getpid());
    WriteFileAtomically(temp, id + "\n", 0600);
    const int rc = ::link(temp.c_str(), path.c_str());
    const int err = errno;
    ::unlink(temp.c_str());
    if (rc == 0) {
      return id;
    }
    if (err != EEXIST) {
      throw ErrnoError(-err, "cannot create " + path);
    }
  }
  throw Error(ErrorCode::kInternal, path + " stays empty; remove it if no berth process runs");
}

Error HostIdTakenError(const std::string& host_id, const std::string& where,
                       const std::string& holder, const std::string& instance_id) {
  return Error(
      ErrorCode::kConflict,
      "host id " + host_id + " belongs to another berth installation " + where + " (instance " +
          holder + "; this one is instance " + instance_id +
          "). Two installations with one host id could write one volume at once, so this one "
          "refuses to attach. Give it its own \"host_id\" in berth.json (a cloned "
          "/etc/machine-id? run systemd-machine-id-setup on a fresh id), or let berth-flex and "
          "berthd share one state_dir. If the other installation is gone for good (this host was "
          "reinstalled), run `berthctl host forget " +
          host_id + "` once");
}

}  // namespace berth::engine
