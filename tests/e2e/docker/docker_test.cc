// berthd against the lab's real dockerd and Ceph: what a Docker user does, end to end.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/files.h"
#include "common/strings.h"
#include "tests/e2e/docker/docker_lab.h"

namespace berth::e2e {
namespace {

// Each test process gets a lab of its own (with this build's berthd): the tests restart its
// berthd and dockerd under running containers, which no other test may be using. At the end
// berthd is stopped gracefully, and the test fails if a berthd log shows a sanitizer report.
class BerthdEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { lab_ = std::make_unique<OwnLab>(); }
  void TearDown() override {
    const std::string pid_file = LabDir() + "/run/berthd.pid";
    if (auto pid = ReadFileIfExists(pid_file)) {
      StopBerthd(std::stoi(Trim(*pid)));
    }
    std::string log;
    for (const char* name : {"/log/berthd.log", "/log/berthd-e2e.log"}) {
      log += ReadFileIfExists(LabDir() + name).value_or("");
    }
    for (const char* report : {"AddressSanitizer", "LeakSanitizer", "runtime error:"}) {
      EXPECT_EQ(log.find(report), std::string::npos) << "berthd log: " << log;
    }
    EXPECT_NE(log.rfind("berthd stopped"), std::string::npos)
        << "berthd drains and exits on SIGTERM";
    lab_.reset();
  }

 private:
  std::unique_ptr<OwnLab> lab_;
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new BerthdEnvironment);

std::vector<std::string> RunArgs(const std::string& volume_arg, const std::string& script) {
  return {"run", "--rm", "--network", "none", "-v", volume_arg, kImage, "sh", "-c", script};
}

class DockerTest : public ::testing::Test {
 public:
  std::string Detached(const std::string& volume, const std::string& script) {
    auto id = DockerOk({"run", "-d", "--init", "--network", "none", "-v", volume + ":/data", kImage,
                        "sh", "-c", script});
    containers_.push_back(id);
    return id;
  }

 protected:
  void TearDown() override {
    for (const auto& c : containers_) {
      Docker({"rm", "-f", c});
    }
    for (const auto& v : volumes_) {
      Docker({"volume", "rm", "-f", v});
    }
  }
  std::string Volume(const std::string& stem) {
    volumes_.push_back(UniqueVolume(stem));
    return volumes_.back();
  }

  std::vector<std::string> containers_;
  std::vector<std::string> volumes_;
};

TEST_F(DockerTest, DataSurvivesContainerRemoval) {
  const auto v = Volume("v1");
  DockerOk({"volume", "create", "-d", Driver(), "-o", "size=300M", "-o", "fstype=xfs", v});
  const auto sum =
      DockerOk(RunArgs(v + ":/data",
                       "dd if=/dev/urandom of=/data/blob bs=1M count=32 2>/dev/null && "
                       "echo hello > /data/note && sha256sum /data/blob"));
  const auto again = DockerOk(RunArgs(v + ":/data", "cat /data/note && sha256sum /data/blob"));
  EXPECT_EQ(again, "hello\n" + sum);
  EXPECT_FALSE(sum.empty());
  EXPECT_TRUE(Eventually([&] { return !VolumeMounted(v) && !VolumeMapped(v); }));
}

TEST_F(DockerTest, StaysMountedUntilTheLastContainerStops) {
  const auto v = Volume("shared");
  DockerOk({"volume", "create", "-d", Driver(), "-o", "size=64M", v});
  const auto a = Detached(v, "echo a > /data/a; sleep 300");
  const auto b = Detached(v, "echo b > /data/b; sleep 300");
  ASSERT_TRUE(Eventually([&] { return VolumeMounted(v); }));
  DockerOk({"rm", "-f", a});
  EXPECT_TRUE(VolumeMounted(v)) << "one container still uses it";
  EXPECT_EQ(DockerOk({"exec", b, "sh", "-c", "ls /data | grep -c '^[ab]$'"}), "2");
  DockerOk({"rm", "-f", b});
  EXPECT_TRUE(Eventually([&] { return !VolumeMounted(v) && !VolumeMapped(v); }))
      << "the last stop unmounts and unmaps";
}

TEST_F(DockerTest, ImplicitCreateAndVolumeOpts) {
  const auto v2 = Volume("implicit");
  DockerOk({"run", "--rm", "--network", "none", "--volume-driver", Driver(), "-v", v2 + ":/data",
            kImage, "touch", "/data/x"});
  auto inspect = nlohmann::json::parse(DockerOk({"volume", "inspect", v2}));
  EXPECT_EQ(inspect[0]["Driver"], Driver());
  EXPECT_EQ(inspect[0]["Status"]["size"], "1 GiB");

  const auto v3 = Volume("opts");
  DockerOk({"run", "--rm", "--network", "none", "--mount",
            "type=volume,source=" + v3 + ",target=/data,volume-driver=" + Driver() +
                ",volume-opt=size=128M",
            kImage, "true"});
  inspect = nlohmann::json::parse(DockerOk({"volume", "inspect", v3}));
  EXPECT_EQ(inspect[0]["Status"]["size"], "128 MiB");
  EXPECT_EQ(inspect[0]["Status"]["backend"], "rbd");
  EXPECT_EQ(inspect[0]["Status"]["image"], v3);
  EXPECT_EQ(inspect[0]["Status"]["fstype"], "ext4");
  EXPECT_EQ(inspect[0]["Scope"], "global");
  EXPECT_EQ(inspect[0].dump().find("key"), std::string::npos) << "no secrets in inspect";
}

TEST_F(DockerTest, LsInspectRmAndBadInput) {
  const auto v = Volume("cmds");
  DockerOk({"volume", "create", "-d", Driver(), "-o", "size=64M", v});
  EXPECT_NE(DockerOk({"volume", "ls", "-q"}).find(v), std::string::npos);
  DockerOk({"volume", "rm", v});
  EXPECT_EQ(DockerOk({"volume", "ls", "-q"}).find(v), std::string::npos);

  auto bogus = Docker({"volume", "create", "-d", Driver(), "-o", "bogus=1", UniqueVolume("b")});
  EXPECT_NE(bogus.exit_code, 0);
  EXPECT_NE(bogus.err.find("bogus"), std::string::npos) << bogus.err;
  auto bad_name = Docker({"volume", "create", "-d", Driver(), "bad..name"});
  EXPECT_NE(bad_name.exit_code, 0);
  EXPECT_NE(bad_name.err.find("'..'"), std::string::npos) << bad_name.err;
}

TEST_F(DockerTest, RemoveRefusedWhileMounted) {
  const auto v = Volume("busy");
  DockerOk({"volume", "create", "-d", Driver(), "-o", "size=64M", v});
  const auto c = Detached(v, "sleep 300");
  ASSERT_TRUE(Eventually([&] { return VolumeMounted(v); }));
  // dockerd itself refuses while a container uses it; the plugin's own check is exercised by
  // asking it directly.
  auto reply =
      PluginRequest(PluginSocket(), "POST", "/VolumeDriver.Remove", R"({"Name":")" + v + R"("})");
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("lab-host-1"), std::string::npos) << reply.body;
  DockerOk({"rm", "-f", c});
}

// A container writes a counter every 50 ms (exit 7 on any I/O error) while berthd is killed
// and restarted: the writes go on, the stop is by signal (143), and the volume is released.
void ExpectIoSurvivesBerthdCrash(DockerTest& test, const std::string& v, const std::string& sync) {
  const auto c = test.Detached(v,
                               "i=0; while true; do i=$((i+1)); echo $i > /data/n.tmp && "
                               "mv /data/n.tmp /data/n " +
                                   sync + " || exit 7; sleep 0.05; done");
  ASSERT_TRUE(Eventually([&] { return VolumeMounted(v); }));
  RestartBerthd(SIGKILL, LabDir() + "/berth.json");
  auto before = DockerOk({"exec", c, "cat", "/data/n"});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto after = DockerOk({"exec", c, "cat", "/data/n"});
  EXPECT_GT(std::stoi(after), std::stoi(before)) << "the container kept writing";
  EXPECT_EQ(DockerOk({"inspect", "-f", "{{.State.Running}}", c}), "true");
  DockerOk({"stop", "-t", "5", c});
  EXPECT_EQ(DockerOk({"inspect", "-f", "{{.State.ExitCode}}", c}), "143")
      << "stopped by the signal, not by an I/O error (exit 7)";
  DockerOk({"rm", c});
  EXPECT_TRUE(Eventually([&] { return !VolumeMounted(v) && !VolumeMapped(v); }));
}

TEST_F(DockerTest, BerthdCrashDoesNotInterruptIo) {
  const auto v = Volume("crash");
  DockerOk({"volume", "create", "-d", Driver(), "-o", "size=128M", v});
  ExpectIoSurvivesBerthdCrash(*this, v, "&& sync /data/n");
}

TEST_F(DockerTest, DockerdLiveRestoreThenStopUnmountsCleanly) {
  const auto v = Volume("live");
  DockerOk({"volume", "create", "-d", Driver(), "-o", "size=64M", v});
  const auto c = Detached(v, "while true; do date > /data/t || exit 7; sleep 0.1; done");
  ASSERT_TRUE(Eventually([&] { return VolumeMounted(v); }));
  auto restart =
      RunCommand({std::string(BERTH_SOURCE_DIR) + "/scripts/lab", "dockerd-restart", LabDir()},
                 std::chrono::minutes(2));
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  EXPECT_EQ(DockerOk({"inspect", "-f", "{{.State.Running}}", c}), "true")
      << "live-restore keeps the container";
  EXPECT_TRUE(VolumeMounted(v));
  // dockerd sends Unmount with the mount ID it had before the restart.
  DockerOk({"rm", "-f", c});
  EXPECT_TRUE(Eventually([&] { return !VolumeMounted(v) && !VolumeMapped(v); }));
}

TEST_F(DockerTest, HostileRequestsGetErrorsAndBerthdKeepsServing) {
  struct Case {
    std::string method, path, body;
    int status;
  };
  const std::vector<Case> cases = {
      {"POST", "/VolumeDriver.Get", "{not json", 400},
      {"POST", "/VolumeDriver.Mount", R"({"ID":"x"})", 400},
      {"POST", "/VolumeDriver.Create", std::string(2 << 20, 'x'), 413},
      {"POST", "/VolumeDriver.Nope", "{}", 404},
      {"GET", "/VolumeDriver.List", "", 405},
      {"DELETE", "/VolumeDriver.Remove", R"({"Name":"x"})", 405},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    auto reply = PluginRequest(PluginSocket(), c.method, c.path, c.body);
    EXPECT_EQ(reply.status, c.status) << reply.body;
    auto json = nlohmann::json::parse(reply.body, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << reply.body;
    EXPECT_FALSE(json.value("Err", "").empty()) << reply.body;
  }
  auto caps = PluginRequest(PluginSocket(), "POST", "/VolumeDriver.Capabilities", "{}");
  EXPECT_EQ(caps.status, 200);
  EXPECT_EQ(nlohmann::json::parse(caps.body)["Capabilities"]["Scope"], "global");
}

TEST_F(DockerTest, SecondHostIsRefusedThenVolumeFollowsTheWorkload) {
  const auto v = Volume("move");
  DockerOk({"volume", "create", "-d", Driver(), "-o", "size=128M", v});
  const auto c = Detached(v,
                          "dd if=/dev/urandom of=/data/blob bs=1M count=16 2>/dev/null; "
                          "sync; touch /data/.written; sleep 300");
  ASSERT_TRUE(Eventually([&] { return VolumeMounted(v); }));
  // The sum of the whole blob: the volume is mounted before dd has finished writing it.
  const auto sum = DockerOk({"exec", c, "sh", "-c",
                             "i=0; while [ ! -f /data/.written ] && [ $i -lt 600 ]; do "
                             "sleep 0.1; i=$((i+1)); done; sha256sum /data/blob"});

  // Another host on the same cluster: refused read-write, the holder named.
  const std::string other_socket = LabDir() + "/host-2.sock";
  const std::string other_pid_file = LabDir() + "/run/berthd-host-2.pid";
  const int other = StartBerthd(ConfigForHost("lab-host-2"), other_socket, other_pid_file);
  auto reply = PluginRequest(other_socket, "POST", "/VolumeDriver.Mount",
                             R"({"Name":")" + v + R"(","ID":"other-host-mount"})");
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("lab-host-1"), std::string::npos) << reply.body;
  StopBerthd(other);

  // The workload moves: stop it, and a berthd for "host 3" takes over dockerd's socket.
  DockerOk({"rm", "-f", c});
  ASSERT_TRUE(Eventually([&] { return !VolumeMapped(v); }));
  RestartBerthd(SIGTERM, ConfigForHost("lab-host-3"));
  const auto moved = DockerOk(RunArgs(v + ":/data", "sha256sum /data/blob"));
  EXPECT_EQ(moved, sum) << "same data on the new host, no copy";
  auto inspect = nlohmann::json::parse(DockerOk({"volume", "inspect", v}));
  EXPECT_EQ(inspect[0]["Status"]["formatted_by"], "lab-host-1") << "never reformatted";
  RestartBerthd(SIGTERM, LabDir() + "/berth.json");
}

// The linger (docs/operations.md): a container restarted on the host gets its volume back as it
// was, with no map, probe or fsck; a berthd killed during a linger ends it when it starts again.
TEST_F(DockerTest, ARestartedContainerReusesTheLingeringVolumeAndARestartedBerthdEndsTheLinger) {
  auto json = nlohmann::json::parse(ReadFileIfExists(LabDir() + "/berth.json").value());
  json["linger_seconds"] = 30;  // the lab turns it off for the other tests
  const std::string config = LabDir() + "/berth-linger.json";
  WriteFileAtomically(config, json.dump(2));
  RestartBerthd(SIGTERM, config);
  const auto v = Volume("linger");
  const std::string state = json["state_dir"].get<std::string>() + "/volumes/" + v + ".json";
  const auto phase = [&] {
    const auto text = ReadFileIfExists(state);
    return text ? nlohmann::json::parse(*text).value("phase", "") : std::string("none");
  };
  DockerOk({"volume", "create", "-d", Driver(), "-o", "size=128M", v});
  const auto sum = DockerOk(RunArgs(v + ":/data",
                                    "dd if=/dev/urandom of=/data/blob bs=1M count=8 2>/dev/null && "
                                    "sha256sum /data/blob"));
  EXPECT_EQ(phase(), "lingering");
  EXPECT_TRUE(VolumeMounted(v) && VolumeMapped(v)) << "the volume lingers after its container";
  EXPECT_EQ(DockerOk(RunArgs(v + ":/data", "sha256sum /data/blob")), sum);
  const std::string log = ReadFileIfExists(LabDir() + "/log/berthd-e2e.log").value_or("");
  EXPECT_NE(log.find("mount " + v), std::string::npos);
  EXPECT_NE(log.find("reused while it lingered"), std::string::npos) << log;
  EXPECT_EQ(phase(), "lingering");

  // berthd dies during the linger: the volume stays as it was until berthd starts again, whose
  // reconcile ends the linger; the data is all there, and it was never formatted again.
  RestartBerthd(SIGKILL, config);
  EXPECT_EQ(phase(), "none");
  EXPECT_FALSE(VolumeMounted(v) || VolumeMapped(v));
  EXPECT_EQ(DockerOk(RunArgs(v + ":/data", "sha256sum /data/blob")), sum);
  auto inspect = nlohmann::json::parse(DockerOk({"volume", "inspect", v}));
  EXPECT_EQ(inspect[0]["Status"]["formatted_by"], "lab-host-1") << "never reformatted";
  EXPECT_EQ(phase(), "lingering");
  // `docker volume rm` ends the linger first.
  DockerOk({"volume", "rm", v});
  EXPECT_EQ(phase(), "none");
  EXPECT_FALSE(VolumeMounted(v) || VolumeMapped(v));
  RestartBerthd(SIGTERM, LabDir() + "/berth.json");
}

TEST_F(DockerTest, NfsVolumeRoundTripAndTwoHostsShareIt) {
  const auto v = Volume("nfs");
  DockerOk({"volume", "create", "-d", Driver(), "-o", "backend=nfs", v});
  DockerOk(RunArgs(v + ":/data", "echo from-container-1 > /data/one"));
  EXPECT_EQ(DockerOk(RunArgs(v + ":/data", "cat /data/one")), "from-container-1");

  const auto c = Detached(v, "sleep 300");
  ASSERT_TRUE(Eventually([&] { return VolumeMounted(v); }));
  // Another host (host id, mount root and socket of its own) mounts the same volume at once.
  const std::string socket = LabDir() + "/nfs-host-2.sock";
  const int other =
      StartBerthd(ConfigForHost("nfs-host-2"), socket, LabDir() + "/run/berthd-nfs-host-2.pid");
  auto reply = PluginRequest(socket, "POST", "/VolumeDriver.Mount",
                             R"({"Name":")" + v + R"(","ID":"host-2-mount"})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const std::string mountpoint = nlohmann::json::parse(reply.body).value("Mountpoint", "");
  ASSERT_FALSE(mountpoint.empty()) << reply.body;
  EXPECT_EQ(Trim(ReadFileIfExists(mountpoint + "/one").value_or("")), "from-container-1");
  WriteFileAtomically(mountpoint + "/two", "from-host-2\n");
  EXPECT_EQ(DockerOk({"exec", c, "cat", "/data/two"}), "from-host-2");
  reply = PluginRequest(socket, "POST", "/VolumeDriver.Unmount",
                        R"({"Name":")" + v + R"(","ID":"host-2-mount"})");
  EXPECT_EQ(reply.status, 200) << reply.body;
  StopBerthd(other);
  DockerOk({"rm", "-f", c});
  EXPECT_TRUE(Eventually([&] { return !VolumeMounted(v); }));
}

TEST_F(DockerTest, NfsBerthdCrashDoesNotInterruptIo) {
  const auto v = Volume("nfs-crash");
  DockerOk({"volume", "create", "-d", Driver(), "-o", "backend=nfs", v});
  ExpectIoSurvivesBerthdCrash(*this, v, "");
}

}  // namespace
}  // namespace berth::e2e
