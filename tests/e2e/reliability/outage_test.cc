// Cluster outages: the OSD of a durable (bluestore) lab stops during Create and Mount, and
// under a container that keeps writing. Errors must be clear and come within the configured
// timeouts (well under Docker's 2 minutes); once the OSD is back everything works and no write
// is lost.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <memory>
#include <thread>

#include "common/files.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "tests/e2e/docker/docker_lab.h"

namespace berth::e2e {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kOpTimeoutSeconds = 5;

// A durable lab of its own, with its own dockerd and berthd (driver berth-<its id>): the test
// stops that lab's OSD, so nothing another test uses may depend on it, and its teardown stops
// the container before it unmaps and before Ceph goes (scripts/lab down).
class Outage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lab_ = std::make_unique<OwnLab>(std::vector<std::string>{"--durable", "--no-nfs"});
    auto config = json::parse(ReadFileIfExists(LabDir() + "/berth.json").value());
    for (auto& [name, backend] : config["backends"].items()) {
      backend["op_timeout_seconds"] = kOpTimeoutSeconds;
    }
    WriteFileAtomically(LabDir() + "/berth.json", config.dump(2));
    lab_->Run("berthd-restart");
    socket_ = PluginSocket();
    log_start_ = ReadFileIfExists(LabDir() + "/log/berthd.log").value_or("").size();
  }

  static void TearDownTestSuite() {
    lab_->Run("osd-start");
    const std::string log = ReadFileIfExists(LabDir() + "/log/berthd.log").value_or("");
    for (const char* report : {"AddressSanitizer", "LeakSanitizer", "runtime error:"}) {
      EXPECT_EQ(log.find(report, log_start_), std::string::npos) << "berthd log: " << log;
    }
    lab_.reset();
  }

  json Call(const std::string& endpoint, const json& body) {
    auto reply = PluginRequest(socket_, "POST", "/VolumeDriver." + endpoint, body.dump());
    EXPECT_EQ(reply.status, 200) << endpoint << ": no answer";
    return reply.status == 200 ? json::parse(reply.body) : json{{"Err", "no answer"}};
  }

  // The call's error, and how long it took to come.
  std::pair<std::string, Clock::duration> Failing(const std::string& endpoint, const json& body) {
    const auto start = Clock::now();
    const std::string err = Call(endpoint, body).value("Err", "");
    return {err, Clock::now() - start};
  }

  static std::unique_ptr<OwnLab> lab_;
  static std::string socket_;
  static size_t log_start_;
};

std::unique_ptr<OwnLab> Outage::lab_;
std::string Outage::socket_;
size_t Outage::log_start_ = 0;

TEST_F(Outage, CreateAndMountFailClearlyWhileTheOsdIsDownThenSucceed) {
  const std::string kept = UniqueVolume("outage-kept");
  const std::string fresh = UniqueVolume("outage-new");
  const json create_kept = {{"Name", kept}, {"Opts", {{"size", "64M"}}}};
  const json create_fresh = {{"Name", fresh}, {"Opts", {{"size", "64M"}}}};
  ASSERT_EQ(Call("Create", create_kept).value("Err", ""), "");

  lab_->Run("osd-stop");
  for (const auto& [endpoint, body] : std::vector<std::pair<std::string, json>>{
           {"Create", create_fresh}, {"Mount", {{"Name", kept}, {"ID", "c1"}}}}) {
    auto [err, took] = Failing(endpoint, body);
    EXPECT_NE(err, "") << endpoint << " succeeded without an OSD";
    EXPECT_NE(err.find("timed out"), std::string::npos) << endpoint << ": " << err;
    // Within the configured timeouts (a few round trips of kOpTimeoutSeconds), far from
    // Docker's 2-minute limit on a plugin call.
    EXPECT_LT(took, std::chrono::seconds(60)) << endpoint << " took too long to fail";
    std::cout << endpoint << " failed after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
              << " ms: " << err << "\n";
  }
  EXPECT_FALSE(VolumeMounted(kept));
  EXPECT_FALSE(VolumeMapped(kept));
  lab_->Run("osd-start");

  // The same operations now succeed, and the failed ones left nothing half-done.
  EXPECT_EQ(Call("Create", create_fresh).value("Err", ""), "");
  for (const auto& name : {kept, fresh}) {
    const auto mounted = Call("Mount", {{"Name", name}, {"ID", "c1"}});
    EXPECT_EQ(mounted.value("Err", ""), "") << name;
    EXPECT_TRUE(PathExists(mounted.value("Mountpoint", "/nonexistent") + "/lost+found"));
    EXPECT_EQ(Call("Unmount", {{"Name", name}, {"ID", "c1"}}).value("Err", ""), "");
  }
  int listed = 0;
  const json list = Call("List", json::object());
  for (const auto& v : list.at("Volumes")) {
    listed += v.value("Name", "") == fresh;
  }
  EXPECT_EQ(listed, 1);
  for (const auto& name : {kept, fresh}) {
    EXPECT_TRUE(Eventually([&] { return !VolumeMapped(name); }));
    EXPECT_EQ(Call("Remove", {{"Name", name}}).value("Err", ""), "") << name;
  }
}

TEST_F(Outage, AContainerWritingThroughAnOsdRestartLosesNothing) {
  const std::string volume = UniqueVolume("outage-writer");
  DockerOk({"volume", "create", "-d", Driver(), "-o", "size=128M", volume});
  // 300 files written and fsynced one after the other, each checksum logged after its file.
  const std::string writer =
      "i=0; while [ $i -lt 300 ]; do "
      "dd if=/dev/urandom of=/data/f$i bs=16k count=1 conv=fsync 2>/dev/null || exit 1; "
      "sha256sum /data/f$i >> /data/sums; i=$((i+1)); sleep 0.02; done; sync";
  const std::string container = DockerOk(
      {"run", "-d", "--network", "none", "-v", volume + ":/data", kImage, "sh", "-c", writer});
  std::this_thread::sleep_for(std::chrono::seconds(1));
  lab_->Run("osd-stop");
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the container's writes now wait
  lab_->Run("osd-start");
  EXPECT_EQ(DockerOk({"wait", container}), "0") << DockerOk({"logs", container});
  DockerOk({"rm", container});

  // Another container checks every file against the checksums the writer logged.
  const std::string check =
      DockerOk({"run", "--rm", "--network", "none", "-v", volume + ":/data", kImage, "sh", "-c",
                "cd /data && wc -l < sums && sha256sum -c -s sums && echo ok"});
  EXPECT_EQ(check, "300\nok");
  DockerOk({"volume", "rm", volume});
}

}  // namespace
}  // namespace berth::e2e
