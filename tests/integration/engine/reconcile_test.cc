// Engine::Reconcile against real mounts and mappings: what is in use is adopted, what provably
// is not is released, and a mount with live references is never unmounted.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>

#include <chrono>
#include <thread>

#include "common/error.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

using Kind = engine::Engine::ReconcileAction::Kind;

std::optional<engine::Engine::ReconcileAction> ActionFor(
    const std::vector<engine::Engine::ReconcileAction>& actions, const std::string& name) {
  for (const auto& action : actions) {
    if (action.volume == name) {
      return action;
    }
  }
  return std::nullopt;
}

TEST(Reconcile, AdoptsLiveMountsAndReleasesWhatNothingUses) {
  const engine::Config config = LabConfig("host-a");
  engine::Engine engine(config);
  const std::string live = UniqueName("rec-live");
  const std::string gone = UniqueName("rec-gone");
  const std::string unused = UniqueName("rec-unused");
  for (const auto& name : {live, gone, unused}) {
    engine.Create(name, {{"size", "64M"}});
  }
  VolumeCleanup c1(engine, live), c2(engine, gone), c3(engine, unused);

  const std::string live_path = engine.Mount(live, "c1").mount_path;
  WriteFileAtomically(live_path + "/marker", "live\n");
  const std::string gone_path = engine.Mount(gone, "c1").mount_path;
  engine.Mount(unused, "c1");
  // Someone unmounted `gone` by hand (or the host rebooted): its reference cannot be live.
  ASSERT_EQ(::umount2(gone_path.c_str(), 0), 0);
  // `unused` lost its reference without a detach (a crash between the two).
  {
    auto state = nlohmann::json::parse(
        ReadFileIfExists(config.state_dir + "/volumes/" + unused + ".json").value());
    state["refs"] = nlohmann::json::object();
    WriteFileAtomically(config.state_dir + "/volumes/" + unused + ".json", state.dump());
  }

  engine::Engine restarted(config);  // a new process: berthd after a restart
  const auto actions = restarted.Reconcile();
  ASSERT_TRUE(ActionFor(actions, live));
  EXPECT_EQ(ActionFor(actions, live)->kind, Kind::kAdopted) << ActionFor(actions, live)->detail;
  ASSERT_TRUE(ActionFor(actions, gone));
  EXPECT_EQ(ActionFor(actions, gone)->kind, Kind::kReleased) << ActionFor(actions, gone)->detail;
  ASSERT_TRUE(ActionFor(actions, unused));
  EXPECT_EQ(ActionFor(actions, unused)->kind, Kind::kReleased);

  // The live one is untouched and still locked by this host; the others are free everywhere.
  EXPECT_TRUE(IsMounted(live_path));
  EXPECT_EQ(ReadFileIfExists(live_path + "/marker").value_or(""), "live\n");
  EXPECT_EQ(restarted.Locks(live).holders.size(), 1u);
  for (const auto& name : {gone, unused}) {
    EXPECT_FALSE(restarted.Get(name).local.has_value()) << name;
    EXPECT_TRUE(restarted.Locks(name).holders.empty()) << name;
    EXPECT_TRUE(LoopsUnder(config.state_dir + "/attach/" + name).empty()) << name;
  }
  // Reconciling again changes nothing.
  const auto again = restarted.Reconcile();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].kind, Kind::kAdopted);
  restarted.Unmount(live, "c1");
}

TEST(Reconcile, NeverUnmountsAMountWithReferencesWhoseMapperDied) {
  const engine::Config config = LabConfig("host-a");
  engine::Engine engine(config);
  const std::string name = UniqueName("rec-broken");
  engine.Create(name, {{"size", "64M"}});
  Cleanups cleanups;
  cleanups.Add([&] {
    engine.Unmount(name, "c1");
    // The dead mapper's watch lasts until the OSD times it out (10 s in the lab).
    for (int i = 0; i < 60; ++i) {
      try {
        engine.Remove(name);
        return;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kBusy) {
          throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    }
    ADD_FAILURE() << "volume " << name << " stayed busy";
  });
  const std::string path = engine.Mount(name, "c1").mount_path;
  const pid_t mapper = engine.Get(name).local->attachment.backend.value("pid", 0);
  ASSERT_GT(mapper, 0);
  ASSERT_EQ(::kill(mapper, SIGKILL), 0);  // the mapper dies under a running container
  for (int i = 0; i < 100 && ProcessAlive(mapper); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  engine::Engine restarted(config);
  const auto actions = restarted.Reconcile();
  ASSERT_TRUE(ActionFor(actions, name));
  EXPECT_EQ(ActionFor(actions, name)->kind, Kind::kBroken) << ActionFor(actions, name)->detail;
  EXPECT_TRUE(IsMounted(path)) << "a mount with a live reference was pulled";
  EXPECT_EQ(restarted.Get(name).local->TotalRefs(), 1);
}

}  // namespace
}  // namespace berth::testing
