// berth-flex answers init without Ceph's libraries and hands every other verb to
// berth-flex-driver (plugin/flex/driver_engine.h). The binaries run as kubelet runs them; no
// config, cluster or root is needed.
#include "plugin/flex/driver_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/subprocess.h"

namespace berth::flex {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(DriverEngine, IsLookedForBesideTheExecutableThenInLibexec) {
  EXPECT_THAT(DriverEngineCandidates("/usr/bin/berth-flex"),
              ElementsAre(fs::path("/usr/bin/berth-flex-driver"),
                          fs::path("/usr/libexec/berth/berth-flex-driver")));
  EXPECT_THAT(DriverEngineCandidates("/var/lib/kubelet/plugins/berth~rbd/rbd"),
              ElementsAre(fs::path("/var/lib/kubelet/plugins/berth~rbd/berth-flex-driver"),
                          fs::path("/var/lib/kubelet/plugins/libexec/berth/berth-flex-driver")));
}

TEST(DriverEngine, GetsTheDriverNameAndKubeletsArgumentsUnchanged) {
  FlexInvocation call{
      DriverKind::kRbdNode, "rbd-node", {"mount", "/pods/v", R"({"a":"b"})"}, "", "", 1};
  EXPECT_THAT(DriverEngineArgs("/e", call),
              ElementsAre("/e", "--driver", "rbd-node", "mount", "/pods/v", R"({"a":"b"})"));
  call.config_path = "/etc/b.json";
  call.log_file = "/var/log/f.log";
  EXPECT_THAT(DriverEngineArgs("/e", call),
              ElementsAre("/e", "--driver", "rbd-node", "--config", "/etc/b.json", "--log-file",
                          "/var/log/f.log", "mount", "/pods/v", R"({"a":"b"})"));
}

class BerthFlexProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "berth-flex-front.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs argv with BERTH_CONFIG pointing nowhere (so a verb that reaches the engine fails on
  // the config, which only berth-flex-driver reads) and the dynamic loader's file log on.
  // Returns the reply; `loaded` gets the loader's log.
  std::string Run(const std::vector<std::string>& argv, std::string* loaded = nullptr) {
    const fs::path ld_log = dir_ / "ld";
    ::setenv("BERTH_CONFIG", (dir_ / "no-config.json").c_str(), 1);
    ::setenv("BERTH_FLEX_LOG", (dir_ / "flex.log").c_str(), 1);
    ::setenv("LD_DEBUG", "files", 1);
    ::setenv("LD_DEBUG_OUTPUT", ld_log.c_str(), 1);
    const CommandResult result = RunCommand(argv, std::chrono::seconds(60));
    for (const char* name : {"BERTH_CONFIG", "BERTH_FLEX_LOG", "LD_DEBUG", "LD_DEBUG_OUTPUT"}) {
      ::unsetenv(name);
    }
    std::string log;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      if (entry.path().filename().string().starts_with("ld.")) {
        std::ifstream in(entry.path());
        log += std::string(std::istreambuf_iterator<char>(in), {});
        fs::remove(entry.path());
      }
    }
    if (loaded != nullptr) {
      *loaded = log;
    }
    return result.out;
  }

  fs::path dir_;
};

TEST_F(BerthFlexProcess, InitLoadsNoCephOrNfsLibrary) {
  std::string loaded;
  EXPECT_THAT(Run({BERTH_FLEX_PATH, "--driver", "rbd", "init"}, &loaded),
              HasSubstr(R"("status":"Success")"));
  EXPECT_THAT(loaded, HasSubstr("libstdc++"));  // the loader's log works
  for (const char* library : {"librados", "librbd", "libceph-common", "libnfs", "libblkid"}) {
    EXPECT_THAT(loaded, Not(HasSubstr(library))) << library;
  }
  // The engine's half loads them: the check above can tell.
  Run({BERTH_FLEX_DRIVER_PATH, "--driver", "rbd", "init"}, &loaded);
  EXPECT_THAT(loaded, HasSubstr("librados"));
}

TEST_F(BerthFlexProcess, HandsEveryOtherVerbToTheDriverEngine) {
  std::string loaded;
  // Only berth-flex-driver reads the config: its refusal proves the call got there, with the
  // same stdout for the reply.
  const std::string reply =
      Run({BERTH_FLEX_PATH, "--driver", "rbd", "unmountdevice", "/nonexistent/global"}, &loaded);
  EXPECT_THAT(reply, HasSubstr(R"("status":"Failure")"));
  EXPECT_THAT(reply, HasSubstr("no-config.json does not exist"));
  EXPECT_THAT(loaded, HasSubstr("librados"));
}

TEST_F(BerthFlexProcess, ASymlinkedDriverFindsTheEngineBesideItsTarget) {
  fs::create_directories(dir_ / "berth~rbd-node");
  fs::create_symlink(BERTH_FLEX_PATH, dir_ / "berth~rbd-node" / "rbd-node");
  const std::string reply =
      Run({(dir_ / "berth~rbd-node" / "rbd-node").string(), "unmount", "/nonexistent/pod"});
  EXPECT_THAT(reply, HasSubstr("no-config.json does not exist"));
}

TEST_F(BerthFlexProcess, WithoutItsEngineAnswersInitAndFailsOtherVerbsClearly) {
  const fs::path driver_dir = dir_ / "berth~rbd";
  fs::create_directories(driver_dir);
  fs::copy_file(BERTH_FLEX_PATH, driver_dir / "rbd");
  const std::string driver = (driver_dir / "rbd").string();
  EXPECT_THAT(Run({driver, "init"}), HasSubstr(R"("attach":true)"));
  // Malformed calls and unknown verbs are answered before the engine is looked for.
  EXPECT_THAT(Run({driver, "mount", "/pods/v", "{bad"}), HasSubstr("not valid JSON"));
  EXPECT_THAT(Run({driver, "frobnicate"}), HasSubstr(R"("status":"Not supported")"));
  const std::string reply = Run({driver, "unmountdevice", "/nonexistent/global"});
  EXPECT_THAT(reply, HasSubstr(R"("status":"Failure")"));
  EXPECT_THAT(reply, HasSubstr((driver_dir / "berth-flex-driver").string() +
                               " (No such file or directory)"));
  EXPECT_THAT(reply, HasSubstr("berth/berth-flex-driver"));
}

}  // namespace
}  // namespace berth::flex
