// The config's "metrics" section (berthd's Prometheus endpoint).
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "engine/config.h"
#include "tests/unit/expect_error.h"

namespace berth::engine {
namespace {

using ::berth::testing::ExpectError;

using ::berth::testing::kInvalid;

Config WithMetrics(const std::string& metrics) {
  return ParseConfig(R"({"host_id": "h", "backends": {"rbd": {"type": "rbd"}}, "metrics": )" +
                     metrics + "}");
}

TEST(MetricsConfig, OffByDefault) {
  const Config config = ParseConfig(R"({"host_id": "h", "backends": {"rbd": {"type": "rbd"}}})");
  EXPECT_FALSE(config.metrics.enabled());
  EXPECT_EQ(config.metrics.listen, "");
  EXPECT_EQ(config.metrics.socket, "");
  EXPECT_FALSE(config.metrics.allow_remote);
}

TEST(MetricsConfig, ReadsListenOrSocket) {
  Config tcp = WithMetrics(R"({"listen": "127.0.0.1:9464"})");
  EXPECT_TRUE(tcp.metrics.enabled());
  EXPECT_EQ(tcp.metrics.listen, "127.0.0.1:9464");
  EXPECT_EQ(WithMetrics(R"({"listen": ":9464"})").metrics.listen, ":9464");

  Config unix_socket = WithMetrics(R"({"socket": "/run/berth/metrics.sock"})");
  EXPECT_TRUE(unix_socket.metrics.enabled());
  EXPECT_EQ(unix_socket.metrics.socket, "/run/berth/metrics.sock");
}

TEST(MetricsConfig, RemoteAddressesNeedAllowRemote) {
  ExpectError([] { WithMetrics(R"({"listen": "0.0.0.0:9464"})"); }, kInvalid,
              {"'0.0.0.0:9464'", "not a loopback address", "allow_remote", "no authentication"});
  ExpectError([] { WithMetrics(R"({"listen": "[::]:9464", "allow_remote": false})"); }, kInvalid,
              {"not a loopback address"});
  Config remote = WithMetrics(R"({"listen": "0.0.0.0:9464", "allow_remote": true})");
  EXPECT_EQ(remote.metrics.listen, "0.0.0.0:9464");
  EXPECT_TRUE(remote.metrics.allow_remote);
}

TEST(MetricsConfig, BadSectionsAreNamed) {
  ExpectError([] { WithMetrics(R"("127.0.0.1:9464")"); }, kInvalid, {"must be an object"});
  ExpectError([] { WithMetrics(R"({})"); }, kInvalid, {"\"listen\"", "\"socket\""});
  ExpectError([] { WithMetrics(R"({"port": 9464})"); }, kInvalid,
              {"unknown key 'port'", "metrics config", "allow_remote, listen, socket"});
  ExpectError([] { WithMetrics(R"({"listen": 9464})"); }, kInvalid, {"'listen'", "string"});
  ExpectError([] { WithMetrics(R"({"listen": "127.0.0.1:9464", "allow_remote": "yes"})"); },
              kInvalid, {"allow_remote", "true or false"});
  ExpectError([] { WithMetrics(R"({"listen": "prometheus:9464"})"); }, kInvalid,
              {"metrics listen address 'prometheus:9464'", "numeric IP address"});
  ExpectError([] { WithMetrics(R"({"listen": "127.0.0.1:99999"})"); }, kInvalid, {"1-65535"});
  ExpectError([] { WithMetrics(R"({"listen": ":9464", "socket": "/run/m.sock"})"); }, kInvalid,
              {"both set"});
  ExpectError([] { WithMetrics(R"({"socket": "metrics.sock"})"); }, kInvalid, {"absolute path"});
}

TEST(MetricsConfig, ValidateChecksAFlagOverride) {
  ValidateMetricsConfig({"127.0.0.1:9464", false, ""});
  ValidateMetricsConfig({"10.1.2.3:9464", true, ""});
  ExpectError(
      [] {
        ValidateMetricsConfig({"10.1.2.3:9464", false, ""});
      },
      kInvalid, {"--metrics-allow-remote"});
  ExpectError([] { ValidateMetricsConfig({"localhost", false, ""}); }, kInvalid, {"no valid port"});
}

}  // namespace
}  // namespace berth::engine
