#include "plugin/docker/plugin_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/version.h"
#include "engine/engine.h"
#include "engine/host_state.h"

namespace berth::docker {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

class PluginMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-metrics-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    config_ = engine::ParseConfig(R"({"host_id": "h", "state_dir": ")" + dir_ +
                                  R"(", "mount_root": ")" + dir_ +
                                  R"(/mnt", "backends": {"rbd": {"type": "rbd"},
                                                     "nfs": {"type": "nfs"}},
                                     "default_backend": "rbd"})");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void SaveState(const std::string& name, const std::string& backend, int refs,
                 bool attached = true) {
    engine::HostVolumeState state;
    state.name = name;
    state.backend = backend;
    if (attached) {
      state.attachment.device = "/dev/rbd0";
    }
    for (int i = 0; i < refs; ++i) {
      state.AddRef("ref-" + std::to_string(i));
    }
    engine::HostStateStore(config_.state_dir).Save(state);
  }

  std::string dir_;
  engine::Config config_;
};

TEST_F(PluginMetricsTest, CountsOperationsLatencyAndErrorCategories) {
  engine::Engine engine(config_, {}, engine::MakeSystemHost());  // no backend is called
  PluginMetrics metrics(engine);
  metrics.RecordOperation("mount", "rbd", 250ms, std::nullopt);
  metrics.RecordOperation("mount", "rbd", 2s, std::nullopt);
  metrics.RecordOperation("mount", "rbd", 500ms, ErrorCode::kBusy);
  metrics.RecordOperation("create", "nfs", 1ms, ErrorCode::kInvalidArgument);
  const std::string out = metrics.Render();
  EXPECT_THAT(out, HasSubstr("berth_operations_total{operation=\"mount\",backend=\"rbd\","
                             "result=\"ok\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("berth_operations_total{operation=\"mount\",backend=\"rbd\","
                             "result=\"error\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("berth_operation_duration_seconds_bucket{operation=\"mount\","
                             "backend=\"rbd\",le=\"0.1\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("berth_operation_duration_seconds_bucket{operation=\"mount\","
                             "backend=\"rbd\",le=\"0.25\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("berth_operation_duration_seconds_bucket{operation=\"mount\","
                             "backend=\"rbd\",le=\"0.5\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("berth_operation_duration_seconds_bucket{operation=\"mount\","
                             "backend=\"rbd\",le=\"2.5\"} 3\n"));
  EXPECT_THAT(out, HasSubstr("berth_operation_duration_seconds_count{operation=\"mount\","
                             "backend=\"rbd\"} 3\n"));
  EXPECT_THAT(out, HasSubstr("berth_operation_duration_seconds_sum{operation=\"mount\","
                             "backend=\"rbd\"} 2.75\n"));
  EXPECT_THAT(out, HasSubstr("berth_errors_total{category=\"busy\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("berth_errors_total{category=\"invalid_argument\"} 1\n"));
  // Categories that never happened are there at 0.
  for (const char* category : {"not_found", "conflict", "unavailable", "permission_denied",
                               "deadline_exceeded", "internal"}) {
    EXPECT_THAT(out,
                HasSubstr("berth_errors_total{category=\"" + std::string(category) + "\"} 0\n"));
  }
  EXPECT_THAT(out, HasSubstr("berth_build_info{version=\"" + std::string(kVersion) +
                             "\",commit=\"" + std::string(kGitCommit) + "\"} 1\n"));
}

TEST_F(PluginMetricsTest, BackendsThatAreNotConfiguredNeverBecomeLabels) {
  engine::Engine engine(config_, {}, engine::MakeSystemHost());  // no backend is called
  PluginMetrics metrics(engine);
  metrics.RecordOperation("create", "made-up\"backend", 1ms, ErrorCode::kInvalidArgument);
  const std::string out = metrics.Render();
  EXPECT_THAT(out, HasSubstr("berth_operations_total{operation=\"create\",backend=\"\","
                             "result=\"error\"} 1\n"));
  EXPECT_THAT(out, Not(HasSubstr("made-up")));
}

TEST_F(PluginMetricsTest, GaugesComeFromTheHostState) {
  engine::Engine engine(config_, {}, engine::MakeSystemHost());  // no backend is called
  PluginMetrics metrics(engine);
  std::string out = metrics.Render();
  EXPECT_THAT(out, HasSubstr("berth_attached_volumes{backend=\"nfs\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("berth_attached_volumes{backend=\"rbd\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("berth_mount_references{backend=\"rbd\"} 0\n"));

  SaveState("db", "rbd", 2);
  SaveState("cache", "rbd", 1);
  SaveState("shared", "nfs", 3);
  SaveState("gone", "rbd", 0, /*attached=*/false);
  SaveState("old", "ceph-that-was-removed", 5);
  // A corrupt state file is skipped, not fatal to the scrape.
  std::ofstream(config_.state_dir + "/volumes/broken.json") << "{not json";
  out = metrics.Render();
  EXPECT_THAT(out, HasSubstr("berth_attached_volumes{backend=\"nfs\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("berth_attached_volumes{backend=\"rbd\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("berth_mount_references{backend=\"nfs\"} 3\n"));
  EXPECT_THAT(out, HasSubstr("berth_mount_references{backend=\"rbd\"} 3\n"));
  EXPECT_THAT(out, Not(HasSubstr("ceph-that-was-removed")));
}

TEST_F(PluginMetricsTest, LearnsBackendsFromRequestsAndTheHostState) {
  engine::Engine engine(config_, {}, engine::MakeSystemHost());  // no backend is called
  PluginMetrics metrics(engine);
  EXPECT_EQ(metrics.BackendOf("db"), "");
  metrics.Learn("db", "nfs");
  EXPECT_EQ(metrics.BackendOf("db"), "nfs");
  metrics.Forget("db");
  EXPECT_EQ(metrics.BackendOf("db"), "");
  metrics.Learn("db", "not-a-backend");
  EXPECT_EQ(metrics.BackendOf("db"), "");

  SaveState("mounted", "rbd", 1);
  EXPECT_EQ(metrics.BackendOf("mounted"), "rbd");
  // Request names become paths only after validation.
  EXPECT_EQ(metrics.BackendOf("../volumes/mounted"), "");
}

}  // namespace
}  // namespace berth::docker
