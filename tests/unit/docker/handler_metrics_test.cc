// The Docker handler's instrumentation, on requests that never reach a backend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "engine/engine.h"
#include "plugin/docker/handler.h"
#include "plugin/docker/plugin_metrics.h"

namespace berth::docker {
namespace {

using ::testing::HasSubstr;

class HandlerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-hm-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    config_ = engine::ParseConfig(R"({"host_id": "h", "state_dir": ")" + dir_ +
                                  R"(/state", "mount_root": ")" + dir_ +
                                  R"(/mnt", "backends": {"rbd": {"type": "rbd"}}})");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  engine::Config config_;
};

TEST_F(HandlerMetricsTest, CountsEveryRequestByOperationAndErrorCategory) {
  engine::Engine engine(config_, {}, engine::MakeSystemHost());
  PluginMetrics metrics(engine);
  Handler handler(engine, &metrics);

  EXPECT_EQ(handler.Handle("POST", "/VolumeDriver.Capabilities", "").status, 200u);
  EXPECT_EQ(handler.Handle("POST", "/VolumeDriver.Mount", "{not json").status, 400u);
  EXPECT_EQ(handler.Handle("GET", "/VolumeDriver.List", "").status, 405u);
  EXPECT_EQ(handler.Handle("POST", "/VolumeDriver.Nope", "{}").status, 404u);
  auto created =
      handler.Handle("POST", "/VolumeDriver.Create", R"({"Name": "db", "Opts": {"size": "lots"}})");
  EXPECT_EQ(created.status, 200u);
  EXPECT_NE(created.body.value("Err", ""), "");

  const std::string out = metrics.Render();
  EXPECT_THAT(out, HasSubstr("berth_operations_total{operation=\"capabilities\",backend=\"\","
                             "result=\"ok\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("berth_operations_total{operation=\"mount\",backend=\"\","
                             "result=\"error\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("berth_operations_total{operation=\"list\",backend=\"\","
                             "result=\"error\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("berth_operations_total{operation=\"unknown\",backend=\"\","
                             "result=\"error\"} 1\n"));
  // Create names its backend from the options, else the default.
  EXPECT_THAT(out, HasSubstr("berth_operations_total{operation=\"create\",backend=\"rbd\","
                             "result=\"error\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("berth_errors_total{category=\"invalid_argument\"} 4\n"));
  EXPECT_THAT(out, HasSubstr("berth_operation_duration_seconds_count{operation=\"create\","
                             "backend=\"rbd\"} 1\n"));
}

TEST_F(HandlerMetricsTest, WorksWithoutMetrics) {
  engine::Engine engine(config_, {}, engine::MakeSystemHost());
  Handler handler(engine);
  EXPECT_EQ(handler.Handle("POST", "/VolumeDriver.Capabilities", "").status, 200u);
  EXPECT_EQ(handler.Handle("POST", "/VolumeDriver.Mount", "{").status, 400u);
}

TEST_F(HandlerMetricsTest, BerthFlexGoesToTheFlexServiceOnly) {
  engine::Engine engine(config_, {}, engine::MakeSystemHost());
  PluginMetrics metrics(engine);
  Handler handler(engine, &metrics);
  // Without one, berth-flex hears 404 and runs its calls itself.
  EXPECT_EQ(handler.Handle("POST", "/Berth.Flex", "{}").status, 404u);

  std::string seen;
  handler.set_flex_service([&seen](const std::string& body) {
    seen = body;
    return body == "other" ? Reply{409, {{"Err", "another config"}}}
                           : Reply{200, {{"status", "Success"}}};
  });
  EXPECT_EQ(handler.Handle("GET", "/Berth.Flex", "x").status, 405u);
  EXPECT_EQ(seen, "") << "a GET reached the service";
  const Reply served = handler.Handle("POST", "/Berth.Flex", "call");
  EXPECT_EQ(served.status, 200u);
  EXPECT_EQ(served.body.value("status", ""), "Success");
  EXPECT_EQ(seen, "call");
  EXPECT_EQ(handler.Handle("POST", "/Berth.Flex", "other").status, 409u);

  const std::string out = metrics.Render();
  EXPECT_THAT(out, HasSubstr("berth_operations_total{operation=\"flex\",backend=\"\","
                             "result=\"ok\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("berth_operations_total{operation=\"flex\",backend=\"\","
                             "result=\"error\"} 3\n"));
}

}  // namespace
}  // namespace berth::docker
