// Every binary reports the version CMake's project() sets (BERTH_EXPECTED_VERSION comes from
// there too), so a package, a bug report and `berthctl version` always agree.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "common/subprocess.h"
#include "common/version.h"

namespace berth {
namespace {

TEST(Version, HeaderCarriesTheCMakeVersion) {
  EXPECT_EQ(kVersion, BERTH_EXPECTED_VERSION);
  EXPECT_FALSE(kGitCommit.empty());
  EXPECT_EQ(VersionLine("x"),
            "x " BERTH_EXPECTED_VERSION " (commit " + std::string(kGitCommit) + ")");
}

TEST(Version, EveryBinaryPrintsIt) {
  const std::pair<const char*, const char*> binaries[] = {
      {"berthd", BERTH_BERTHD_PATH},     {"berth-flex", BERTH_FLEX_PATH},
      {"berthctl", BERTH_BERTHCTL_PATH}, {"berth-nfs-fuse", BERTH_NFS_FUSE_PATH},
      {"berth-csi", BERTH_CSI_PATH},     {"berth-flex-driver", BERTH_FLEX_DRIVER_PATH},
  };
  for (const auto& [name, path] : binaries) {
    // No config, no cluster and no root needed: --version answers before anything else.
    auto result = RunCommand({path, "--version"}, std::chrono::seconds(30));
    EXPECT_EQ(result.exit_code, 0) << name << ": " << result.err;
    EXPECT_EQ(result.out, VersionLine(name) + "\n") << name;
  }
}

TEST(Version, BerthctlHasAVersionCommand) {
  auto text = RunCommand({BERTH_BERTHCTL_PATH, "version"}, std::chrono::seconds(30));
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, VersionLine("berthctl") + "\n");

  for (const auto& args : {std::vector<std::string>{BERTH_BERTHCTL_PATH, "version", "--json"},
                           std::vector<std::string>{BERTH_BERTHCTL_PATH, "--json", "version"}}) {
    auto json = RunCommand(args, std::chrono::seconds(30));
    EXPECT_EQ(json.exit_code, 0) << json.err;
    const auto doc = nlohmann::json::parse(json.out);
    EXPECT_EQ(doc.at("version"), BERTH_EXPECTED_VERSION);
    EXPECT_EQ(doc.at("commit"), std::string(kGitCommit));
  }
}

TEST(Version, BerthFlexVersionIsNotAKubeletReply) {
  // kubelet's verbs answer JSON; --version is for people and package checks.
  auto result = RunCommand({BERTH_FLEX_PATH, "--version"}, std::chrono::seconds(30));
  EXPECT_EQ(result.out.find('{'), std::string::npos) << result.out;
}

}  // namespace
}  // namespace berth
