// Issue 14, holes 7 and 8: one stuck volume, or a flood of connections, never stalls berthd for
// everyone else. Requests for a volume that another process is working on wait in a queue (not
// on a worker) and are answered "busy", naming that work, after busy_wait_seconds; half-sent
// requests are closed after a read timeout and evicted past the connection cap. Each test
// prints the latency of a neighbour's requests as a ratio against an idle daemon.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/fd.h"
#include "common/files.h"
#include "engine/config.h"
#include "tests/integration/engine/lab.h"
#include "tests/integration/security/security.h"
#include "tests/support/berthd_process.h"
#include "tests/support/plugin_client.h"

namespace berth::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

class StallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = LabDir() + "/tests/" + UniqueName("stall");
    config_path_ = WriteBerthdConfig(base_, "stall-host");
    auto doc = json::parse(ReadFileIfExists(config_path_).value());
    doc["busy_wait_seconds"] = 5;
    WriteFileAtomically(config_path_, doc.dump());
    config_ = engine::LoadConfig(config_path_);
    berthd_ = std::make_unique<BerthdProcess>(BERTH_BERTHD_PATH, config_path_,
                                              base_ + "/berthd.sock", base_ + "/berthd.log");
  }

  void TearDown() override {
    for (const auto& name : volumes_) {
      CleanUpVolume(berthd_->socket(), config_path_, name, {});
    }
    berthd_.reset();
  }

  std::string CreateVolume(const std::string& stem) {
    const std::string name = UniqueName(stem);
    PluginClient(berthd_->socket())
        .CallOk("VolumeDriver.Create", json{{"Name", name}, {"Opts", {{"size", "32M"}}}}.dump());
    volumes_.push_back(name);
    return name;
  }

  // A container start and stop on `name` from a fresh connection, as dockerd does: its time.
  double MountUnmountMillis(const std::string& name, const std::string& id) {
    const auto start = Clock::now();
    PluginClient client(berthd_->socket());
    client.CallOk("VolumeDriver.Mount", json{{"Name", name}, {"ID", id}}.dump());
    client.CallOk("VolumeDriver.Unmount", json{{"Name", name}, {"ID", id}}.dump());
    return Millis(Clock::now() - start);
  }

  std::string base_;
  std::string config_path_;
  engine::Config config_;
  std::unique_ptr<BerthdProcess> berthd_;
  std::vector<std::string> volumes_;
};

TEST_F(StallTest, OneStuckVolumeNeverStallsTheOthers) {
  const std::string stuck = CreateVolume("stuck");
  const std::string other = CreateVolume("other");
  std::vector<double> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(MountUnmountMillis(other, "idle-" + std::to_string(i)));
  }

  // Another berth process (berth-flex in a long fsck, say) holds the stuck volume's lock.
  const std::string lock_path = config_.state_dir + "/locks/" + stuck + ".lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(lock.valid());
  ASSERT_EQ(::flock(lock.get(), LOCK_EX), 0);
  const std::string record = "fsck by berth-flex (pid 4242) since 2026-12-03T11:00:00Z\n";
  ASSERT_EQ(::pwrite(lock.get(), record.data(), record.size(), 0),
            static_cast<ssize_t>(record.size()));

  // 32 container starts on the stuck volume: more than berthd's 16 workers.
  constexpr int kWaiting = 32;
  std::vector<std::string> answers(kWaiting);
  std::vector<double> waited(kWaiting);
  std::vector<std::thread> waiting;
  for (int i = 0; i < kWaiting; ++i) {
    waiting.emplace_back([&, i] {
      const auto start = Clock::now();
      try {
        PluginClient client(berthd_->socket());
        answers[i] = client
                         .Call("VolumeDriver.Mount",
                               json{{"Name", stuck}, {"ID", "c" + std::to_string(i)}}.dump())
                         .Err();
      } catch (const std::exception& e) {
        answers[i] = std::string("client error: ") + e.what();
      }
      waited[i] = Millis(Clock::now() - start);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<double> busy;
  for (int i = 0; i < 3; ++i) {
    busy.push_back(MountUnmountMillis(other, "busy-" + std::to_string(i)));
  }
  for (auto& t : waiting) {
    t.join();
  }
  int named = 0;
  for (const auto& answer : answers) {
    EXPECT_NE(answer.find("volume " + stuck + " is busy"), std::string::npos) << answer;
    // The one on a worker names the other process's work; the queued ones the request ahead.
    named += answer.find("fsck by berth-flex (pid 4242)") != std::string::npos ? 1 : 0;
    EXPECT_NE(answer.find("retry"), std::string::npos) << answer;
  }
  EXPECT_GE(named, 1) << "no answer named what held the volume";
  std::cout << "mount+unmount of another volume: idle " << Median(idle) << " ms, with " << kWaiting
            << " requests waiting on a stuck volume " << Median(busy) << " ms (ratio "
            << Median(busy) / Median(idle) << "); the stuck requests were "
            << "answered busy after " << Median(waited) << " ms (median), "
            << *std::max_element(waited.begin(), waited.end()) << " ms (max)\n";

  // Released: the stuck volume mounts again, and nothing of the refused requests stayed.
  lock.Reset();
  EXPECT_GE(MountUnmountMillis(stuck, "after"), 0);
}

// Connects to `socket` and sends half a request header, as a hostile local client would.
UniqueFd HalfOpen(const std::string& socket) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket.c_str());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return UniqueFd();
  }
  const std::string partial = "POST /VolumeDriver.List HTTP/1.1\r\nHost: berth\r\nContent-Le";
  [[maybe_unused]] const ssize_t sent =
      ::send(fd.get(), partial.data(), partial.size(), MSG_NOSIGNAL);
  return fd;
}

size_t OpenDescriptors(pid_t pid) {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++count;
  }
  return count;
}

TEST_F(StallTest, AFloodOfHalfOpenConnectionsIsHeldOff) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = std::max<rlim_t>(limit.rlim_cur, std::min<rlim_t>(limit.rlim_max, 4096));
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);

  const std::string name = CreateVolume("flood");
  auto dockerd_call = [&] {
    const auto start = Clock::now();
    PluginClient client(berthd_->socket());  // a new connection, as dockerd opens them
    client.CallOk("VolumeDriver.Get", json{{"Name", name}}.dump());
    client.CallOk("VolumeDriver.List", "{}");
    return Millis(Clock::now() - start);
  };
  std::vector<double> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(dockerd_call());
  }

  constexpr int kFlood = 1000;
  std::vector<UniqueFd> flood;
  for (int i = 0; i < kFlood; ++i) {
    flood.push_back(HalfOpen(berthd_->socket()));
  }
  std::vector<double> flooded;
  for (int i = 0; i < 20; ++i) {
    flooded.push_back(dockerd_call());
  }
  const size_t descriptors = OpenDescriptors(berthd_->pid());
  // 256 connections at most, plus berthd's own files, pools and Ceph sockets.
  EXPECT_LT(descriptors, 256u + 200u) << "berthd holds a descriptor per flood connection";
  std::cout << "Get+List from a new connection: idle " << Median(idle) << " ms, with " << kFlood
            << " half-open connections " << Median(flooded) << " ms (ratio "
            << Median(flooded) / Median(idle) << "); berthd held " << descriptors
            << " descriptors\n";
  flood.clear();
  EXPECT_GE(dockerd_call(), 0) << "berthd answers once the flood is gone";
}

}  // namespace
}  // namespace berth::testing
