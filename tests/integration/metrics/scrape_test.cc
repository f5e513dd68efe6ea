// berthd with metrics on, against the lab: plugin requests over its socket move the counters,
// histograms, error categories and gauges that a Prometheus scrape over TCP then reads, and
// every line of the scrape is valid text exposition format.
#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "common/files.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "common/version.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"
#include "tests/unit/docker/http_client.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

bool Eventually(const std::function<bool()>& condition, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

// The value of one series ("name{labels}") in a scrape, if it is there.
std::optional<double> Value(const std::string& scrape, const std::string& series) {
  for (const auto& line : Split(scrape, '\n')) {
    if (line.starts_with(series + " ")) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

// Checks the scrape line by line against the text format 0.0.4: HELP and TYPE comments, then
// samples of the family a TYPE announced (histograms as _bucket, _sum and _count).
void ExpectValidExposition(const std::string& scrape) {
  ASSERT_FALSE(scrape.empty());
  EXPECT_EQ(scrape.back(), '\n');
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::regex sample(R"(([a-zA-Z_:][a-zA-Z0-9_:]*))"
                                 R"((\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")"
                                 R"((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})?)"
                                 R"( ([-+]?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?|[-+]Inf|NaN))");
  std::set<std::string> typed;
  std::string family;
  std::string family_type;
  for (const auto& line : Split(scrape.substr(0, scrape.size() - 1), '\n')) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      continue;
    }
    if (std::regex_match(line, m, type)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "family typed twice: " << line;
      family = m[1];
      family_type = m[2];
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "not exposition format: '" << line << "'";
    const std::string name = m[1];
    bool ok = name == family;
    if (family_type == "histogram") {
      ok = name == family + "_bucket" || name == family + "_sum" || name == family + "_count";
    }
    EXPECT_TRUE(ok) << "sample outside its family " << family << ": " << line;
  }
}

class MetricsScrapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = LabConfig("host-metrics");
    base_ = config_.state_dir.substr(0, config_.state_dir.rfind('/'));
    socket_ = base_ + "/plugin.sock";
    port_ = FreeTcpPort();
    auto doc = nlohmann::json::parse(*ReadFileIfExists(LabDir() + "/berth.json"));
    doc["host_id"] = config_.host_id;
    doc["state_dir"] = config_.state_dir;
    doc["mount_root"] = config_.mount_root;
    doc["socket"] = socket_;
    doc["metrics"] = {{"listen", "127.0.0.1:" + std::to_string(port_)}};
    config_path_ = base_ + "/berth.json";
    WriteFileAtomically(config_path_, doc.dump(2));
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (!Eventually([&] { return !ProcessAlive(pid_); }, 30)) {
        ::kill(pid_, SIGKILL);
        Eventually([&] { return !ProcessAlive(pid_); }, 10);
      }
    }
    // Whatever the test got to, nothing stays mounted, mapped or created.
    if (!volume_.empty()) {
      engine::Engine engine(config_);
      RemoveIfPresent(engine, volume_);
    }
  }

  void StartBerthd() {
    pid_ = SpawnDetached({BERTH_BERTHD_PATH, "--config", config_path_, "--log-level", "info"},
                         base_ + "/berthd.log");
    const bool up = Eventually(
        [&] {
          try {
            return Plugin("/VolumeDriver.Capabilities", "{}").status == 200 &&
                   TcpRequest("127.0.0.1", port_, "GET", "/metrics").status == 200;
          } catch (const std::exception&) {
            return false;
          }
        },
        30);
    ASSERT_TRUE(up) << "berthd did not serve; its log:\n" << FileTail(base_ + "/berthd.log", 4000);
  }

  HttpResponse Plugin(const std::string& endpoint, const std::string& body) {
    return UnixRequest(socket_, "POST", endpoint, body);
  }

  // The reply's "Err" after checking the request got an HTTP answer.
  std::string PluginErr(const std::string& endpoint, const nlohmann::json& body) {
    auto reply = Plugin(endpoint, body.dump());
    EXPECT_EQ(reply.status, 200u) << endpoint << ": " << reply.body;
    return nlohmann::json::parse(reply.body).value("Err", "<no Err>");
  }

  std::string Scrape() {
    auto reply = TcpRequest("127.0.0.1", port_, "GET", "/metrics");
    EXPECT_EQ(reply.status, 200u);
    EXPECT_THAT(reply.content_type, ::testing::StartsWith("text/plain; version=0.0.4"));
    return reply.body;
  }

  engine::Config config_;
  std::string base_;
  std::string socket_;
  std::string config_path_;
  uint16_t port_ = 0;
  int pid_ = -1;
  std::string volume_;
};

TEST_F(MetricsScrapeTest, PluginRequestsShowInTheScrape) {
  ASSERT_NO_FATAL_FAILURE(StartBerthd());
  const std::string before = Scrape();
  ExpectValidExposition(before);
  EXPECT_THAT(before, HasSubstr("berth_build_info{version=\"" + std::string(kVersion) + "\""));
  EXPECT_EQ(Value(before, R"(berth_errors_total{category="invalid_argument"})"), 0);
  EXPECT_EQ(Value(before, R"(berth_attached_volumes{backend="rbd"})"), 0);
  EXPECT_EQ(Value(before, R"(berth_mount_references{backend="rbd"})"), 0);

  volume_ = UniqueName("metrics");
  EXPECT_EQ(PluginErr("/VolumeDriver.Create", {{"Name", volume_}, {"Opts", {{"size", "64M"}}}}),
            "");
  auto mounted =
      Plugin("/VolumeDriver.Mount", nlohmann::json{{"Name", volume_}, {"ID", "m1"}}.dump());
  ASSERT_EQ(mounted.status, 200u);
  const auto mount_reply = nlohmann::json::parse(mounted.body);
  ASSERT_EQ(mount_reply.value("Err", ""), "") << mounted.body;
  EXPECT_TRUE(IsMounted(mount_reply.value("Mountpoint", "")));

  const std::string while_mounted = Scrape();
  EXPECT_EQ(Value(while_mounted, R"(berth_attached_volumes{backend="rbd"})"), 1);
  EXPECT_EQ(Value(while_mounted, R"(berth_mount_references{backend="rbd"})"), 1);
  EXPECT_EQ(Value(while_mounted, R"(berth_attached_volumes{backend="nfs"})"), 0);

  EXPECT_EQ(PluginErr("/VolumeDriver.Unmount", {{"Name", volume_}, {"ID", "m1"}}), "");
  // The detach finishes after Unmount replies.
  EXPECT_TRUE(Eventually(
      [&] { return Value(Scrape(), R"(berth_attached_volumes{backend="rbd"})") == 0; }, 60));
  EXPECT_EQ(PluginErr("/VolumeDriver.Remove", {{"Name", volume_}}), "");

  // Two bad requests: an engine refusal (HTTP 200 with Err) and a malformed body (HTTP 400).
  EXPECT_THAT(PluginErr("/VolumeDriver.Create",
                        {{"Name", volume_ + "-bad"}, {"Opts", {{"no_such_option", "1"}}}}),
              HasSubstr("no_such_option"));
  EXPECT_EQ(Plugin("/VolumeDriver.Mount", "{\"Name\": ").status, 400u);

  const std::string after = Scrape();
  ExpectValidExposition(after);
  auto ops = [&](const std::string& op, const std::string& backend, const std::string& result) {
    return Value(after, "berth_operations_total{operation=\"" + op + "\",backend=\"" + backend +
                            "\",result=\"" + result + "\"}");
  };
  EXPECT_EQ(ops("create", "rbd", "ok"), 1);
  EXPECT_EQ(ops("mount", "rbd", "ok"), 1);
  EXPECT_EQ(ops("unmount", "rbd", "ok"), 1);
  EXPECT_EQ(ops("remove", "rbd", "ok"), 1);
  EXPECT_EQ(ops("create", "rbd", "error"), 1);
  EXPECT_EQ(ops("mount", "", "error"), 1);
  EXPECT_EQ(ops("mount", "rbd", "error"), std::nullopt);
  EXPECT_EQ(
      Value(after, R"(berth_operation_duration_seconds_count{operation="mount",backend="rbd"})"),
      1);
  EXPECT_EQ(
      Value(
          after,
          R"(berth_operation_duration_seconds_bucket{operation="mount",backend="rbd",le="+Inf"})"),
      1);
  EXPECT_GT(Value(after, R"(berth_operation_duration_seconds_sum{operation="mount",backend="rbd"})")
                .value_or(0),
            0);
  EXPECT_EQ(
      Value(after, R"(berth_operation_duration_seconds_count{operation="create",backend="rbd"})"),
      2);
  EXPECT_EQ(Value(after, R"(berth_errors_total{category="invalid_argument"})"), 2);
  EXPECT_EQ(Value(after, R"(berth_errors_total{category="busy"})"), 0);
  EXPECT_EQ(Value(after, R"(berth_attached_volumes{backend="rbd"})"), 0);
  EXPECT_EQ(Value(after, R"(berth_mount_references{backend="rbd"})"), 0);

  // Only GET /metrics is served on the metrics port.
  EXPECT_EQ(TcpRequest("127.0.0.1", port_, "POST", "/metrics").status, 405u);
  EXPECT_EQ(TcpRequest("127.0.0.1", port_, "GET", "/VolumeDriver.List").status, 404u);
}

TEST_F(MetricsScrapeTest, BerthdRefusesARemoteOrUnreadableMetricsAddress) {
  auto remote = RunCommand({BERTH_BERTHD_PATH, "--config", config_path_, "--metrics-listen",
                            "0.0.0.0:" + std::to_string(port_)},
                           std::chrono::seconds(60));
  EXPECT_EQ(remote.exit_code, 1);
  EXPECT_THAT(remote.err, HasSubstr("is not a loopback address"));
  EXPECT_THAT(remote.err, HasSubstr("--metrics-allow-remote"));

  auto garbled = RunCommand(
      {BERTH_BERTHD_PATH, "--config", config_path_, "--metrics-listen", "localhost:http"},
      std::chrono::seconds(60));
  EXPECT_EQ(garbled.exit_code, 1);
  EXPECT_THAT(garbled.err, HasSubstr("metrics listen address 'localhost:http'"));
  EXPECT_FALSE(PathExists(socket_)) << "berthd served although its metrics address was refused";
}

TEST_F(MetricsScrapeTest, TheFlagOverridesTheConfig) {
  const uint16_t flag_port = FreeTcpPort();
  pid_ = SpawnDetached({BERTH_BERTHD_PATH, "--config", config_path_, "--metrics-listen",
                        "127.0.0.1:" + std::to_string(flag_port)},
                       base_ + "/berthd.log");
  EXPECT_TRUE(Eventually(
      [&] {
        try {
          return TcpRequest("127.0.0.1", flag_port, "GET", "/metrics").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      30))
      << FileTail(base_ + "/berthd.log", 4000);
  EXPECT_THROW(TcpRequest("127.0.0.1", port_, "GET", "/metrics"), std::exception);
}

// berthd's shared Ceph client fenced (by an operator, or by an older berth's lock break that
// blocklisted the client that took a lock): berthd notices at its next call, drops that client
// for good, connects a new one and serves again. The log and the metrics say so.
TEST_F(MetricsScrapeTest, BerthdReplacesAFencedCephClientAndServesAgain) {
  ASSERT_NO_FATAL_FAILURE(StartBerthd());
  volume_ = UniqueName("fenced-client");
  ASSERT_EQ(PluginErr("/VolumeDriver.Create", {{"Name", volume_}, {"Opts", {{"size", "64M"}}}}),
            "");
  const std::string log_path = base_ + "/berthd.log";
  auto clients = [&] {
    static const std::regex connected(R"(Ceph client for pool \S+ connected as \S+ at (\S+))");
    const std::string log = ReadFileIfExists(log_path).value_or("");
    std::vector<std::string> out;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), connected);
         it != std::sregex_iterator(); ++it) {
      out.push_back((*it)[1]);
    }
    return out;
  };
  const auto before = clients();
  ASSERT_EQ(before.size(), 1u) << FileTail(log_path, 4000);
  EXPECT_EQ(Value(Scrape(), R"(berth_ceph_clients_fenced{backend="rbd"})"), 0);

  LabCluster admin;
  admin.Blocklist(before[0]);
  Cleanups cleanups;
  cleanups.Add([&] { admin.Unblocklist(before[0]); });

  // Every read answers as if nothing had happened: the first one that meets the fence replaces
  // the client and runs again on the new one. (Blocklist returns once the OSD enforces it, so
  // that is the first Get; the loop only keeps a slow map update from failing the test.)
  bool replaced = false;
  for (int i = 0; i < 300 && !replaced; ++i) {
    ASSERT_EQ(PluginErr("/VolumeDriver.Get", {{"Name", volume_}}), "") << "attempt " << i;
    replaced = clients().size() > 1;
    if (!replaced) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const auto after = clients();
  ASSERT_EQ(after.size(), 2u) << FileTail(log_path, 4000);
  EXPECT_NE(after[1], before[0]);
  EXPECT_THAT(ReadFileIfExists(log_path).value_or(""),
              HasSubstr("AUDIT: this host's Ceph client at " + before[0] + " (pool"));
  EXPECT_EQ(PluginErr("/VolumeDriver.List", nlohmann::json::object()), "");
  const std::string scrape = Scrape();
  ExpectValidExposition(scrape);
  EXPECT_EQ(Value(scrape, R"(berth_ceph_clients_fenced{backend="rbd"})"), 1);
  EXPECT_EQ(Value(scrape, R"(berth_ceph_clients_fenced{backend="nfs"})"), 0);

  // Changes work again too: a mount (lock, map, format) and an unmount.
  auto mounted =
      Plugin("/VolumeDriver.Mount", nlohmann::json{{"Name", volume_}, {"ID", "m1"}}.dump());
  ASSERT_EQ(nlohmann::json::parse(mounted.body).value("Err", ""), "") << mounted.body;
  EXPECT_EQ(PluginErr("/VolumeDriver.Unmount", {{"Name", volume_}, {"ID", "m1"}}), "");
  EXPECT_EQ(clients().size(), 2u) << "berthd connected again without a new fence";
}

}  // namespace
}  // namespace berth::testing
