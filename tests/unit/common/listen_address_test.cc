#include "common/listen_address.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "tests/unit/expect_error.h"

namespace berth {
namespace {

using ::berth::testing::ExpectError;

using ::berth::testing::kInvalid;

ListenAddress Parse(const std::string& text) { return ParseListenAddress(text, "listen"); }

TEST(ParseListenAddress, ReadsIpv4AndIpv6) {
  ListenAddress v4 = Parse("127.0.0.1:9464");
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 9464);
  EXPECT_TRUE(v4.loopback);
  EXPECT_EQ(v4.ToString(), "127.0.0.1:9464");

  ListenAddress v6 = Parse("[::1]:9464");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_TRUE(v6.loopback);
  EXPECT_EQ(v6.ToString(), "[::1]:9464");

  EXPECT_TRUE(Parse("127.3.2.1:1").loopback);
  EXPECT_EQ(Parse("127.0.0.1:65535").port, 65535);
}

TEST(ParseListenAddress, APortAloneOrLocalhostMeansLoopback) {
  for (const char* text : {"9464", ":9464", "localhost:9464"}) {
    ListenAddress address = Parse(text);
    EXPECT_EQ(address.host, "127.0.0.1") << text;
    EXPECT_EQ(address.port, 9464) << text;
    EXPECT_TRUE(address.loopback) << text;
  }
}

TEST(ParseListenAddress, TellsOtherAddressesApart) {
  EXPECT_FALSE(Parse("0.0.0.0:9464").loopback);
  EXPECT_FALSE(Parse("10.0.0.7:9464").loopback);
  EXPECT_FALSE(Parse("[::]:9464").loopback);
  EXPECT_FALSE(Parse("[fe80::1]:9464").loopback);
}

TEST(ParseListenAddress, RefusesWhatItCannotRead) {
  ExpectError([] { Parse(""); }, kInvalid, {"listen ''", "no valid port", "127.0.0.1:9464"});
  ExpectError([] { Parse("127.0.0.1"); }, kInvalid, {"no valid port"});
  ExpectError([] { Parse("127.0.0.1:"); }, kInvalid, {"no valid port"});
  ExpectError([] { Parse("127.0.0.1:0"); }, kInvalid, {"1-65535"});
  ExpectError([] { Parse("127.0.0.1:65536"); }, kInvalid, {"1-65535"});
  ExpectError([] { Parse("127.0.0.1:94x"); }, kInvalid, {"no valid port"});
  ExpectError([] { Parse("127.0.0.1:-1"); }, kInvalid, {"no valid port"});
  ExpectError([] { Parse("metrics.example.com:9464"); }, kInvalid,
              {"'metrics.example.com:9464'", "numeric IP address or localhost"});
  ExpectError([] { Parse("300.1.1.1:9464"); }, kInvalid, {"numeric IP address"});
  ExpectError([] { Parse("::1:9464"); }, kInvalid, {"IPv6 address without brackets"});
  ExpectError([] { Parse("[::1:9464"); }, kInvalid, {"unclosed ["});
  ExpectError([] { Parse("[::1]9464"); }, kInvalid, {"no :PORT"});
}

}  // namespace
}  // namespace berth
