// berthd as systemd runs it (berthd.service is Type=notify): READY=1 only once the plugin socket
// accepts connections, STOPPING=1 when SIGTERM starts the drain, STATUS=failed when it cannot
// start. The test owns the NOTIFY_SOCKET datagram socket, as systemd would.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/files.h"
#include "tests/integration/engine/lab.h"

extern char** environ;

namespace berth::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

sockaddr_un UnixAddress(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  EXPECT_LT(path.size(), sizeof(address.sun_path)) << path;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  return address;
}

// The receiving end of NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const sockaddr_un address = UnixAddress(path_);
    ::unlink(path_.c_str());
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      throw std::runtime_error("cannot bind " + path_ + ": " + std::strerror(errno));
    }
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }

  // The next datagram, or nothing within `timeout`.
  std::optional<std::string> Receive(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
      return std::nullopt;
    }
    char buffer[4096];
    const ssize_t got = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (got < 0) {
      return std::nullopt;
    }
    return std::string(buffer, static_cast<size_t>(got));
  }

  // Datagrams until one has the line `line` (returned with it), or until `timeout`.
  std::vector<std::string> ReceiveUntil(const std::string& line, milliseconds timeout) {
    std::vector<std::string> messages;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      auto message = Receive(std::max(left, milliseconds(1)));
      if (!message) {
        continue;
      }
      messages.push_back(*message);
      if (HasLine(*message, line)) {
        break;
      }
    }
    return messages;
  }

  static bool HasLine(const std::string& message, const std::string& line) {
    return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

bool Connects(const std::string& socket_path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un address = UnixAddress(socket_path);
  const bool connected =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

// berthd with NOTIFY_SOCKET set, its output appended to `log`.
pid_t StartBerthd(const std::string& config, const std::string& notify_socket,
                  const std::string& log) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) {
      env_strings.emplace_back(*e);
    }
  }
  env_strings.push_back("NOTIFY_SOCKET=" + notify_socket);
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = {BERTH_BERTHD_PATH, "--config", config, "--log-level", "debug"};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

// A berthd this test started: killed and reaped at scope exit unless it exited already, so a
// failed assertion leaves no daemon behind.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }

  // The exit status, or -1 if it still runs after `timeout`.
  int WaitExit(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      ::usleep(10'000);
    }
    return -1;
  }

 private:
  pid_t pid_;
};

// The lab's config with this test's own host id, state, mount root and plugin socket.
std::string ConfigFile(const std::string& dir, const std::string& socket) {
  const auto lab = LabConfig("notify-host");
  auto config = nlohmann::json::parse(ReadFileIfExists(LabDir() + "/berth.json").value());
  config["host_id"] = lab.host_id;
  config["state_dir"] = lab.state_dir;
  config["mount_root"] = lab.mount_root;
  config["socket"] = socket;
  const std::string path = dir + "/berth.json";
  WriteFileAtomically(path, config.dump(2));
  return path;
}

TEST(BerthdNotify, ReadyOnlyOnceServingAndStoppingOnSigterm) {
  const std::string dir = LabDir() + "/tests/notify-" + std::to_string(::getpid());
  MakeDirectories(dir);
  // Short paths: sun_path holds 108 bytes.
  const std::string socket = dir + "/berth.sock";
  const std::string config = ConfigFile(dir, socket);
  const std::string log = dir + "/berthd.log";
  NotifySocket notify(dir + "/notify");

  Child berthd(StartBerthd(config, notify.path(), log));
  ASSERT_GT(berthd.pid(), 0);
  // Checked as each message arrives: by the time READY=1 is read, the socket must accept.
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  bool ready = false;
  std::vector<std::string> before_ready;
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    auto message = notify.Receive(milliseconds(200));
    if (!message) {
      continue;
    }
    if (NotifySocket::HasLine(*message, "READY=1")) {
      ready = true;
      EXPECT_TRUE(Connects(socket)) << "READY=1 sent before " << socket << " accepts";
      EXPECT_TRUE(NotifySocket::HasLine(*message, "STATUS=serving " + socket)) << *message;
    } else {
      before_ready.push_back(*message);
    }
  }
  ASSERT_TRUE(ready) << "no READY=1 within 30 s; see " << log;
  // The start-up step (pending detaches) is announced before the socket serves.
  ASSERT_FALSE(before_ready.empty());
  EXPECT_EQ(before_ready.front().rfind("STATUS=", 0), 0u) << before_ready.front();

  // A second berthd on the same socket refuses to start, says why, and is never ready.
  {
    NotifySocket second_notify(dir + "/notify2");
    Child second(StartBerthd(config, second_notify.path(), dir + "/berthd2.log"));
    EXPECT_EQ(second.WaitExit(seconds(30)), 1);
    bool failed = false;
    while (auto message = second_notify.Receive(milliseconds(100))) {
      EXPECT_FALSE(NotifySocket::HasLine(*message, "READY=1")) << *message;
      failed = failed ||
               message->find("STATUS=failed: another process already serves") != std::string::npos;
    }
    EXPECT_TRUE(failed);
    EXPECT_TRUE(Connects(socket)) << "the second berthd took the first one's socket";
  }

  ASSERT_EQ(::kill(berthd.pid(), SIGTERM), 0);
  auto messages = notify.ReceiveUntil("STOPPING=1", seconds(10));
  ASSERT_FALSE(messages.empty()) << "nothing on NOTIFY_SOCKET after SIGTERM";
  EXPECT_TRUE(NotifySocket::HasLine(messages.back(), "STOPPING=1")) << messages.back();
  EXPECT_EQ(berthd.WaitExit(seconds(30)), 0) << "see " << log;
  EXPECT_FALSE(PathExists(socket)) << "berthd left its socket behind";
}

}  // namespace
}  // namespace berth::testing
