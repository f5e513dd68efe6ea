#include "plugin/docker/metrics_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>

#include "common/error.h"
#include "tests/unit/docker/http_client.h"
#include "tests/unit/expect_error.h"

namespace berth::docker {
namespace {

using ::berth::testing::ExpectError;
using ::berth::testing::FreeTcpPort;
using ::berth::testing::TcpRequest;
using ::berth::testing::UnixRequest;

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-msrv-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  MetricsServer::Render Render() {
    return [this] {
      ++scrapes_;
      return std::string("berth_up 1\n");
    };
  }

  std::string dir_;
  std::atomic<int> scrapes_{0};
};

TEST_F(MetricsServerTest, ServesGetMetricsOverTcp) {
  const uint16_t port = FreeTcpPort();
  MetricsServer server({"127.0.0.1:" + std::to_string(port), false, ""}, Render());
  EXPECT_EQ(server.where(), "127.0.0.1:" + std::to_string(port));

  auto ok = TcpRequest("127.0.0.1", port, "GET", "/metrics");
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(ok.body, "berth_up 1\n");
  // Prometheus may add query parameters; the path decides.
  EXPECT_EQ(TcpRequest("127.0.0.1", port, "GET", "/metrics?format=text").status, 200u);
  EXPECT_EQ(scrapes_, 2);

  auto post = TcpRequest("127.0.0.1", port, "POST", "/metrics");
  EXPECT_EQ(post.status, 405u);
  EXPECT_EQ(post.allow, "GET");
  EXPECT_THAT(post.body, ::testing::HasSubstr("use GET"));
  EXPECT_EQ(TcpRequest("127.0.0.1", port, "GET", "/").status, 404u);
  EXPECT_EQ(TcpRequest("127.0.0.1", port, "GET", "/metricsx").status, 404u);
  EXPECT_EQ(TcpRequest("127.0.0.1", port, "DELETE", "/VolumeDriver.Remove").status, 404u);
  EXPECT_EQ(scrapes_, 2);
}

TEST_F(MetricsServerTest, ServesAUnixSocketAndRemovesItOnStop) {
  const std::string path = dir_ + "/run/metrics.sock";
  {
    MetricsServer server({"", false, path}, Render());
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto ok = UnixRequest(path, "GET", "/metrics");
    EXPECT_EQ(ok.status, 200u);
    EXPECT_EQ(ok.body, "berth_up 1\n");

    // A second server never takes a live socket.
    ExpectError(
        [&] {
          MetricsServer second({"", false, path}, Render());
        },
        ErrorCode::kConflict, {"another process already serves", path});
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(MetricsServerTest, RefusesAPortInUseAndBadAddresses) {
  const uint16_t port = FreeTcpPort();
  MetricsServer first({"127.0.0.1:" + std::to_string(port), false, ""}, Render());
  ExpectError(
      [&] {
        MetricsServer second({"127.0.0.1:" + std::to_string(port), false, ""}, Render());
      },
      ErrorCode::kConflict, {"cannot serve metrics on 127.0.0.1:", "--metrics-listen"});
  ExpectError(
      [&] {
        MetricsServer remote({"0.0.0.0:9464", false, ""}, Render());
      },
      ErrorCode::kInvalidArgument, {"not a loopback address"});
}

}  // namespace
}  // namespace berth::docker
