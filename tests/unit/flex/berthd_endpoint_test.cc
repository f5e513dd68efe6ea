// berthd's side of POST /Berth.Flex (plugin/flex/berthd_endpoint.h): what it refuses before any
// engine call. A call it serves end to end is
// integration.flex.FlexTest.WithTheNodesBerthdRunningTheNodesCallsRunInIt.
#include "plugin/flex/berthd_endpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/files.h"
#include "plugin/flex/berthd_request.h"

namespace berth::flex {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class BerthdEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "berth-flex-endpoint.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    config_path_ = (dir_ / "berth.json").string();
    const std::string text = R"({"host_id": "h", "state_dir": ")" + (dir_ / "state").string() +
                             R"(", "mount_root": ")" + (dir_ / "mnt").string() +
                             R"(", "backends": {"rbd": {"type": "rbd"}}})";
    WriteFileAtomically(config_path_, text);
    config_ = engine::ParseConfig(text);
    engine_ = std::make_unique<engine::Engine>(config_);  // connects on first use: never here
  }
  void TearDown() override {
    engine_.reset();
    fs::remove_all(dir_);
  }

  BerthdFlexReply Serve(const BerthdFlexRequest& request) {
    return ServeBerthdFlexRequest(EncodeBerthdFlexRequest(request), config_path_, config_,
                                  *engine_);
  }
  // unmount of a pod directory that was never mounted: served, and a no-op.
  BerthdFlexRequest Unmount() const {
    return {"rbd", {"unmount", (dir_ / "pods/never").string()}, config_path_, ThisMountNamespace()};
  }

  fs::path dir_;
  std::string config_path_;
  engine::Config config_;
  std::unique_ptr<engine::Engine> engine_;
};

TEST_F(BerthdEndpointTest, ServesItsOwnConfigHoweverItIsNamed) {
  EXPECT_EQ(Serve(Unmount()).status, 200u);
  fs::create_symlink(config_path_, dir_ / "link.json");
  BerthdFlexRequest linked = Unmount();
  linked.config_path = (dir_ / "link.json").string();
  const BerthdFlexReply reply = Serve(linked);
  EXPECT_EQ(reply.status, 200u) << reply.body.dump();
  EXPECT_EQ(reply.body.value("status", ""), "Success") << reply.body.dump();
}

TEST_F(BerthdEndpointTest, LeavesToBerthFlexWhatItMustNotRun) {
  BerthdFlexRequest other = Unmount();
  other.config_path = (dir_ / "other.json").string();
  BerthdFlexReply reply = Serve(other);
  EXPECT_EQ(reply.status, 409u);
  EXPECT_THAT(reply.body.value("Err", ""), HasSubstr("serves " + config_path_));

  // A berthd in a container: its mounts would not be kubelet's.
  BerthdFlexRequest elsewhere = Unmount();
  elsewhere.mount_namespace = "mnt:[1]";
  reply = Serve(elsewhere);
  EXPECT_EQ(reply.status, 409u);
  EXPECT_THAT(reply.body.value("Err", ""), HasSubstr("mount namespace"));

  BerthdFlexRequest init = Unmount();
  init.args = {"init"};
  reply = Serve(init);
  EXPECT_EQ(reply.status, 409u);
  EXPECT_THAT(reply.body.value("Err", ""), HasSubstr("init runs in berth-flex's own process"));

  BerthdFlexRequest secret = Unmount();
  secret.args = {"mount", (dir_ / "pods/p").string(),
                 R"({"volume":"db","kubernetes.io/secret/key":"a2V5"})"};
  EXPECT_EQ(Serve(secret).status, 409u);
}

TEST_F(BerthdEndpointTest, MalformedRequestsAre400) {
  EXPECT_EQ(ServeBerthdFlexRequest("{", config_path_, config_, *engine_).status, 400u);
  BerthdFlexRequest unknown = Unmount();
  unknown.driver = "lvm";
  EXPECT_THAT(Serve(unknown).body.value("Err", ""), HasSubstr("unknown driver 'lvm'"));
  BerthdFlexRequest short_call = Unmount();
  short_call.args = {"unmount"};
  const BerthdFlexReply reply = Serve(short_call);
  EXPECT_EQ(reply.status, 400u);
  EXPECT_THAT(reply.body.value("Err", ""), HasSubstr("unmount takes 1 argument"));
}

}  // namespace
}  // namespace berth::flex
