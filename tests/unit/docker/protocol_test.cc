// Docker plugin protocol parsing: what dockerd sends is accepted, anything else is refused with
// a message naming what was wrong.
#include "plugin/docker/protocol.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace berth::docker {
namespace {

void ExpectInvalid(Endpoint endpoint, const std::string& body, const std::string& words) {
  try {
    ParseVolumeRequest(endpoint, body);
    ADD_FAILURE() << "accepted: " << body;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(ProtocolTest, EndpointsAreExact) {
  EXPECT_EQ(ParseEndpoint("/Plugin.Activate"), Endpoint::kActivate);
  EXPECT_EQ(ParseEndpoint("/VolumeDriver.Mount"), Endpoint::kMount);
  EXPECT_EQ(ParseEndpoint("/VolumeDriver.Capabilities"), Endpoint::kCapabilities);
  EXPECT_FALSE(ParseEndpoint("/VolumeDriver.mount"));
  EXPECT_FALSE(ParseEndpoint("/VolumeDriver.Mount/extra"));
  EXPECT_FALSE(ParseEndpoint("/"));
}

TEST(ProtocolTest, SlowEndpointsAreTheOnesThatAttach) {
  EXPECT_TRUE(IsSlow(Endpoint::kMount));
  EXPECT_TRUE(IsSlow(Endpoint::kCreate));
  EXPECT_FALSE(IsSlow(Endpoint::kGet));
  EXPECT_FALSE(IsSlow(Endpoint::kList));
}

TEST(ProtocolTest, BerthFlexIsSlowAndNamesNoVolume) {
  // berth-flex's calls attach and mount too; their body is kubelet's call, not {"Name": ...}.
  EXPECT_EQ(ParseEndpoint("/Berth.Flex"), Endpoint::kFlex);
  EXPECT_TRUE(IsSlow(Endpoint::kFlex));
  EXPECT_FALSE(TakesVolume(Endpoint::kFlex));
}

TEST(ProtocolTest, ParsesWhatDockerdSends) {
  auto create = ParseVolumeRequest(Endpoint::kCreate, R"({"Name":"db","Opts":{"size":"1G"}})"
                                                      "\n");
  EXPECT_EQ(create.name, "db");
  EXPECT_EQ(create.options.at("size"), "1G");
  auto implicit = ParseVolumeRequest(Endpoint::kCreate, R"({"Name":"db","Opts":null})");
  EXPECT_TRUE(implicit.options.empty());
  auto mount = ParseVolumeRequest(Endpoint::kMount, R"({"Name":"db","ID":"abc123"})");
  EXPECT_EQ(mount.id, "abc123");
}

TEST(ProtocolTest, RefusesMalformedBodies) {
  ExpectInvalid(Endpoint::kGet, "{not json", "not valid JSON");
  ExpectInvalid(Endpoint::kGet, "[]", "JSON object");
  ExpectInvalid(Endpoint::kGet, "{}", "\"Name\"");
  ExpectInvalid(Endpoint::kGet, R"({"Name":7})", "\"Name\"");
  ExpectInvalid(Endpoint::kMount, R"({"Name":"db"})", "\"ID\"");
  ExpectInvalid(Endpoint::kUnmount, R"({"Name":"db","ID":""})", "\"ID\"");
  ExpectInvalid(Endpoint::kCreate, R"({"Name":"db","Opts":[1]})", "\"Opts\"");
  ExpectInvalid(Endpoint::kCreate, R"({"Name":"db","Opts":{"size":1}})", "option 'size'");
}

}  // namespace
}  // namespace berth::docker
