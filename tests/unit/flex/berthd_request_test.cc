// berth-flex's handing of the node's calls to berthd (plugin/flex/berthd_request.h,
// berthd_client.h): the request, which calls go, where the socket is, and when berth-flex runs
// a call itself instead. The berthd here is a stand-in answering one canned HTTP reply; the
// real one is integration.flex.FlexTest.WithTheNodesBerthdRunningTheNodesCallsRunInIt.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <thread>

#include "common/files.h"
#include "engine/config.h"
#include "plugin/flex/berthd_client.h"
#include "plugin/flex/berthd_request.h"
#include "tests/unit/expect_error.h"

namespace berth::flex {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using ::berth::testing::ExpectError;
using ::berth::testing::kInvalid;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(BerthdFlexRequest, RoundTrips) {
  const BerthdFlexRequest sent{
      "rbd-node", {"mount", "/pods/v", R"({"a":"b"})"}, "/etc/b.json", ThisMountNamespace()};
  const BerthdFlexRequest got = DecodeBerthdFlexRequest(EncodeBerthdFlexRequest(sent));
  EXPECT_EQ(got.driver, "rbd-node");
  EXPECT_THAT(got.args, ElementsAre("mount", "/pods/v", R"({"a":"b"})"));
  EXPECT_EQ(got.config_path, "/etc/b.json");
  EXPECT_THAT(got.mount_namespace, ::testing::StartsWith("mnt:["));
}

TEST(BerthdFlexRequest, MalformedBodiesSayWhatIsExpected) {
  ExpectError([] { DecodeBerthdFlexRequest("{not json"); }, kInvalid, {"one JSON object"});
  ExpectError([] { DecodeBerthdFlexRequest("[]"); }, kInvalid, {"one JSON object"});
  ExpectError([] { DecodeBerthdFlexRequest(R"({"Args": [], "Config": "/c"})"); }, kInvalid,
              {"string \"Driver\""});
  ExpectError([] { DecodeBerthdFlexRequest(R"({"Driver": "rbd", "Args": []})"); }, kInvalid,
              {"string \"Config\""});
  ExpectError([] { DecodeBerthdFlexRequest(R"({"Driver": "rbd", "Args": [], "Config": "/c"})"); },
              kInvalid, {"string \"MountNamespace\""});
  ExpectError(
      [] { DecodeBerthdFlexRequest(R"({"Driver": "r", "Config": "/c", "MountNamespace": "m"})"); },
      kInvalid, {"array of strings"});
  ExpectError(
      [] {
        DecodeBerthdFlexRequest(
            R"({"Driver": "r", "Args": [1], "Config": "/c", "MountNamespace": "m"})");
      },
      kInvalid, {"array of strings"});
}

TEST(BerthdFlexRequest, EveryVerbButInitGoesUnlessItCarriesASecret) {
  const std::string json = R"({"volume":"db"})";
  EXPECT_TRUE(GoesToBerthd(ParseCall({"waitforattach", "/dev/x", json})));
  EXPECT_TRUE(GoesToBerthd(ParseCall({"mountdevice", "/g", "/dev/x", json})));
  EXPECT_TRUE(GoesToBerthd(ParseCall({"mount", "/p", json})));
  EXPECT_TRUE(GoesToBerthd(ParseCall({"unmount", "/p"})));
  EXPECT_TRUE(GoesToBerthd(ParseCall({"unmountdevice", "/g"})));
  EXPECT_TRUE(GoesToBerthd(ParseCall({"expandfs", json, "/dev/x", "/g", "2", "1"})));
  EXPECT_TRUE(GoesToBerthd(ParseCall({"attach", json, "node"})));
  EXPECT_TRUE(GoesToBerthd(ParseCall({"isattached", json, "node"})));
  EXPECT_TRUE(GoesToBerthd(ParseCall({"detach", "pv", "node"})));
  EXPECT_TRUE(GoesToBerthd(ParseCall({"expandvolume", json, "/g", "2", "1"})));
  EXPECT_TRUE(GoesToBerthd(ParseCall({"getvolumename", json})));
  EXPECT_FALSE(GoesToBerthd(ParseCall({"init"})));  // berth-flex's alone
  // A pod secret's key stays in the process kubelet started.
  EXPECT_FALSE(GoesToBerthd(
      ParseCall({"mount", "/p", R"({"volume":"db","kubernetes.io/secret/key":"a2V5"})"})));
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "berth-flex-berthd.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

using BerthdSocket = TempDir;

TEST_F(BerthdSocket, IsTheConfigsSocketElseBerthdsDefault) {
  const std::string config = (dir_ / "berth.json").string();
  WriteFileAtomically(config, R"({"host_id": "h", "socket": "/run/b.sock"})");
  EXPECT_EQ(BerthdSocketOf(config), "/run/b.sock");
  WriteFileAtomically(config, R"({"host_id": "h"})");
  EXPECT_EQ(BerthdSocketOf(config), kDefaultBerthdSocket);
  EXPECT_EQ(std::string(kDefaultBerthdSocket), engine::Config{}.socket);
  // What the driver engine will refuse, and say why.
  WriteFileAtomically(config, R"({"socket": 7})");
  EXPECT_EQ(BerthdSocketOf(config), std::nullopt);
  WriteFileAtomically(config, "{broken");
  EXPECT_EQ(BerthdSocketOf(config), std::nullopt);
  EXPECT_EQ(BerthdSocketOf((dir_ / "none.json").string()), std::nullopt);
}

// A stand-in berthd: accepts one connection on `socket`, reads one request into `*request`,
// then answers `status` with `body`, or closes without a reply when `status` is 0.
class OneReplyServer {
 public:
  OneReplyServer(const std::string& socket, unsigned status, std::string body)
      : acceptor_(io_, asio::local::stream_protocol::endpoint(socket)) {
    thread_ = std::thread([this, status, body = std::move(body)] {
      asio::local::stream_protocol::socket stream(io_);
      acceptor_.accept(stream);
      boost::beast::flat_buffer buffer;
      http::request_parser<http::string_body> parser;
      boost::system::error_code ec;
      http::read(stream, buffer, parser, ec);
      const std::string target(parser.get().target());
      request_ = target == kBerthdFlexTarget ? parser.get().body() : "wrong target: " + target;
      if (status == 0) {
        return;
      }
      http::response<http::string_body> out{static_cast<http::status>(status), 11};
      out.body() = body;
      out.prepare_payload();
      http::write(stream, out, ec);
    });
  }
  ~OneReplyServer() { Join(); }
  OneReplyServer(const OneReplyServer&) = delete;
  OneReplyServer& operator=(const OneReplyServer&) = delete;

  // What berth-flex sent, once the exchange is over.
  const std::string& request() {
    Join();
    return request_;
  }

 private:
  void Join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  asio::io_context io_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::thread thread_;
  std::string request_;
};

using CallBerthdTest = TempDir;

BerthdFlexRequest Request() {
  return {"rbd", {"unmount", "/pods/v"}, "/etc/berth/berth.json", "mnt:[1]"};
}

TEST_F(CallBerthdTest, NoSocketOrNobodyListeningLeavesTheCallHere) {
  EXPECT_EQ(CallBerthd((dir_ / "none.sock").string(), Request()), std::nullopt);
  {
    // A socket file whose berthd is gone.
    asio::io_context io;
    asio::local::stream_protocol::acceptor gone(
        io, asio::local::stream_protocol::endpoint((dir_ / "gone.sock").string()));
  }
  ASSERT_TRUE(fs::is_socket(dir_ / "gone.sock"));
  EXPECT_EQ(CallBerthd((dir_ / "gone.sock").string(), Request()), std::nullopt);
}

TEST_F(CallBerthdTest, BerthdsReplyIsTheReply) {
  const std::string socket = (dir_ / "b.sock").string();
  OneReplyServer berthd(socket, 200, R"({"status":"Success"})");
  const auto reply = CallBerthd(socket, Request());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->value("status", ""), "Success");
  const BerthdFlexRequest sent = DecodeBerthdFlexRequest(berthd.request());
  EXPECT_THAT(sent.args, ElementsAre("unmount", "/pods/v"));
}

TEST_F(CallBerthdTest, AnotherConfigOrAnOlderBerthdLeavesTheCallHere) {
  for (const unsigned status : {404U, 409U}) {
    const std::string socket = (dir_ / ("b" + std::to_string(status) + ".sock")).string();
    OneReplyServer berthd(socket, status, R"({"Err":"not mine"})");
    EXPECT_EQ(CallBerthd(socket, Request()), std::nullopt) << status;
  }
}

TEST_F(CallBerthdTest, AFailureAfterTheCallWasTakenIsAFailureNotARerun) {
  const std::string silent = (dir_ / "silent.sock").string();
  {
    OneReplyServer berthd(silent, 0, "");
    const auto reply = CallBerthd(silent, Request());
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->value("status", ""), "Failure");
    EXPECT_THAT(reply->value("message", ""), HasSubstr("took the call but did not answer"));
  }
  const std::string broken = (dir_ / "broken.sock").string();
  OneReplyServer berthd(broken, 400, R"({"Err":"a Berth.Flex request needs ..."})");
  const auto reply = CallBerthd(broken, Request());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->value("status", ""), "Failure");
  EXPECT_THAT(reply->value("message", ""), HasSubstr("answered 400: a Berth.Flex request needs"));
}

}  // namespace
}  // namespace berth::flex
