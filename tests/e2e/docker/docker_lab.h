// The e2e lab: the real dockerd and berthd that scripts/lab started, driven through the docker
// CLI and raw requests on the plugin socket.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/subprocess.h"

namespace berth::e2e {

inline constexpr const char* kImage = "lab/busybox";

// A lab of the test's own: `scripts/lab up` in a temp dir with this build's berthd, for tests
// that stop or restart its daemons (dockerd, berthd, the OSD), which no other test may be using.
// While it lives, this process's environment is the lab's env file (BERTH_LAB_DIR, DOCKER_HOST,
// BERTH_DRIVER, BERTH_PLUGIN_SOCKET, ...), so every helper below works on it. `scripts/lab down`
// on destruction (containers first, then unmount and unmap, Ceph last).
class OwnLab {
 public:
  explicit OwnLab(const std::vector<std::string>& options = {});
  ~OwnLab();
  OwnLab(const OwnLab&) = delete;
  OwnLab& operator=(const OwnLab&) = delete;

  const std::string& dir() const { return dir_; }
  // `scripts/lab COMMAND DIR`: osd-stop, osd-start, berthd-restart, dockerd-restart. A failure
  // fails the test.
  void Run(const std::string& command) const;

 private:
  std::string dir_;
};

std::string LabDir();
// The lab's Docker volume driver, berth-<lab id>, and the socket its berthd serves it on
// ($BERTH_DRIVER and $BERTH_PLUGIN_SOCKET from the lab's env): each lab has its own, so labs
// run side by side on one machine.
std::string Driver();
std::string PluginSocket();

// `docker ARGS...` against the lab's dockerd ($DOCKER_HOST).
CommandResult Docker(const std::vector<std::string>& args);
// Like Docker, but a non-zero exit fails the test with docker's stderr; returns stdout trimmed.
std::string DockerOk(const std::vector<std::string>& args);

// Stops the lab's berthd (`signal`: SIGTERM drains, SIGKILL crashes it) and starts this
// build's berthd with `config` on `socket`, recording its pid where `scripts/lab down` finds it.
// `socket` defaults to PluginSocket().
void RestartBerthd(int signal, const std::string& config, const std::string& socket = "",
                   const std::string& pid_file = "");
// Starts another berthd (a second "host"); returns its pid. Stopped by StopBerthd.
int StartBerthd(const std::string& config, const std::string& socket, const std::string& pid_file);
void StopBerthd(int pid);

// The lab's berth.json rewritten with another host id and state dir; returns its path.
std::string ConfigForHost(const std::string& host_id);

struct HttpReply {
  int status = 0;
  std::string body;
};
// A raw request on a plugin socket (curl --unix-socket), body from a file when large.
HttpReply PluginRequest(const std::string& socket, const std::string& method,
                        const std::string& path, const std::string& body);

std::string UniqueVolume(const std::string& stem);
// Whether any host of the lab has `volume` mounted (".../mnt/<volume>").
bool VolumeMounted(const std::string& volume);
// Whether any host of the lab still has `volume` mapped (rbd-fuse or a loop device over it).
bool VolumeMapped(const std::string& volume);
// Polls `condition` for up to `seconds`; detaches finish after Unmount replies.
bool Eventually(const std::function<bool()>& condition, int seconds = 15);

}  // namespace berth::e2e
