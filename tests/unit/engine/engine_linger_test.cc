// The linger on fakes: the last Docker unmount keeps a read-write RBD volume mounted, synced and
// locked; a Mount meanwhile reuses it; its timer, a restart's reconcile, a release request from
// another host, and every operation that needs the volume unused end it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "tests/unit/engine/fakes/engine_on_fakes.h"
#include "tests/unit/expect_error.h"

namespace berth::engine::testing {
namespace {

using berth::testing::ExpectError;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

class LingerOnFakes : public EngineOnFakes {
 protected:
  void SetUp() override {
    EngineOnFakes::SetUp();
    Linger(node_);
  }
  // Lingers on `node`, its timers kept for the test to fire.
  // berthd's detach pool in miniature: work queued, run by Drain() (at once it would deadlock on
  // the volume lock its caller holds).
  void Linger(FakeNode& node) {
    node.engine->set_detach_executor(
        [this](std::function<void()> work) { work_.push_back(std::move(work)); });
    // A release request's handler queues its answer: the asker's fake runs it.
    cluster().run_pending = [this] { Drain(); };
    node.engine->set_linger_scheduler(
        [this](std::chrono::milliseconds delay, std::function<void()> work) {
          delays_.push_back(delay);
          timers_.push_back(std::move(work));
        });
  }
  // Makes every linger's time be up, then fires the timers.
  void ExpireLingers(const FakeNode& node) {
    for (const auto& name : HostStateStore(node.engine->config().state_dir).Names()) {
      if (auto state = node.State(name); state && state->phase == Phase::kLingering) {
        state->linger_until_ms = 1;
        node.SaveState(*state);
      }
    }
    FireTimers();
  }
  void FireTimers() {
    auto timers = std::move(timers_);
    timers_.clear();
    for (auto& timer : timers) {
      timer();
    }
    Drain();
  }
  void Drain() {
    while (!work_.empty()) {
      auto work = std::move(work_.front());
      work_.erase(work_.begin());
      work();
    }
  }
  long Count(const std::vector<std::string>& calls, const std::string& call) {
    return std::count(calls.begin(), calls.end(), call);
  }
  // A volume mounted and unmounted once: lingering now.
  void Lingering(const std::string& name) {
    engine().Create(name, {});
    engine().Mount(name, "c1");
    engine().Unmount(name, "c1");
    ASSERT_EQ(State(name)->phase, Phase::kLingering);
  }

  std::vector<std::chrono::milliseconds> delays_;
  std::vector<std::function<void()>> timers_;
  std::vector<std::function<void()>> work_;
};

TEST_F(LingerOnFakes, TheLastUnmountSyncsAndKeepsTheVolumeMountedAndLocked) {
  engine().Create("db", {});
  engine().Mount("db", "c1");
  engine().Unmount("db", "c1");
  const auto state = State("db");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->phase, Phase::kLingering);
  EXPECT_EQ(state->TotalRefs(), 0);
  EXPECT_GT(state->linger_until_ms, 0);
  EXPECT_THAT(host().calls, Contains("sync " + MountPath("db")));
  EXPECT_THAT(host().calls, Not(Contains("unmount " + MountPath("db"))));
  EXPECT_TRUE(host().IsMountPoint(MountPath("db")));
  EXPECT_TRUE(Locked("db"));
  EXPECT_THAT(rbd().calls, Not(Contains("detach")));
  EXPECT_THAT(rbd().calls, Contains("serve db"));
  ASSERT_EQ(delays_.size(), 1U);
  EXPECT_EQ(delays_[0], std::chrono::seconds(30));  // the config's default
}

TEST_F(LingerOnFakes, AMountWithinTheLingerReusesTheAttachmentAsItIs) {
  Lingering("db");
  const auto formats = host().formats;
  const MountResult result = engine().Mount("db", "c2");
  EXPECT_EQ(result.mount_path, MountPath("db"));
  EXPECT_FALSE(result.formatted);
  EXPECT_EQ(State("db")->phase, Phase::kMounted);
  EXPECT_EQ(State("db")->linger_until_ms, 0);
  EXPECT_EQ(Count(rbd().calls, "attach"), 1);
  EXPECT_EQ(Count(host().calls, "format-and-mount /dev/fake0 " + MountPath("db")), 1);
  EXPECT_EQ(host().formats, formats);
}

TEST_F(LingerOnFakes, ItsTimerEndsItOnceTheTimeIsUp) {
  Lingering("db");
  FireTimers();  // the time is not up yet: the timer leaves it
  EXPECT_EQ(State("db")->phase, Phase::kLingering);
  Lingering("logs");
  ExpireLingers(node_);
  EXPECT_FALSE(State("logs"));
  EXPECT_FALSE(host().IsMountPoint(MountPath("logs")));
  EXPECT_FALSE(Locked("logs"));
  EXPECT_THAT(rbd().calls, Contains("stop serving logs"));
}

TEST_F(LingerOnFakes, AnEarlierLingersTimerNeverEndsALaterLinger) {
  Lingering("db");
  auto first = std::move(timers_);
  timers_.clear();
  engine().Mount("db", "c2");  // reused...
  for (auto& timer : first) {
    timer();  // ...so the first timer finds it mounted
  }
  Drain();
  EXPECT_EQ(State("db")->phase, Phase::kMounted);
  engine().Unmount("db", "c2");  // lingers again, with a new time
  EXPECT_EQ(State("db")->phase, Phase::kLingering);
  EXPECT_TRUE(Locked("db"));
}

TEST_F(LingerOnFakes, ReadOnlyAndLockFreeVolumesDoNotLinger) {
  engine().Create("ro", {});
  host().filesystems.insert("/dev/fake0");  // made elsewhere before
  engine().Mount("ro", "c1", /*read_only=*/true);
  engine().Unmount("ro", "c1");
  engine().Create("share", {{"backend", "nfs"}});
  engine().Mount("share", "c1");
  engine().Unmount("share", "c1");
  Drain();
  EXPECT_FALSE(State("ro"));
  EXPECT_FALSE(State("share"));
  EXPECT_TRUE(timers_.empty());
}

TEST_F(LingerOnFakes, ZeroSecondsTurnsItOff) {
  FakeNode off = MakeNode("host-c", [](Config& config) { config.linger_seconds = 0; });
  Linger(off);
  off.engine->Create("db", {});
  off.engine->Mount("db", "c1");
  off.engine->Unmount("db", "c1");
  Drain();
  EXPECT_FALSE(off.State("db"));
  EXPECT_FALSE(Locked("db"));
  EXPECT_TRUE(timers_.empty());
}

TEST_F(LingerOnFakes, AnotherHostThatNeedsTheVolumeAsksAndGetsItAtOnce) {
  Lingering("db");
  FakeNode b = MakeNode("host-b");
  b.host->filesystems.insert("/dev/fake1");  // the filesystem host a made, on b's device
  b.engine->Mount("db", "c9");
  EXPECT_EQ(b.State("db")->phase, Phase::kMounted);
  EXPECT_EQ(cluster().locks.at("db").host_id, "host-b");
  EXPECT_THAT(b.rbd->calls, Contains("ask db"));
  // Host a tore down in order, and answered before it stopped serving.
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(host().IsMountPoint(MountPath("db")));
  EXPECT_THAT(rbd().calls, Contains("detach"));
  EXPECT_THAT(rbd().calls, Contains("stop serving db"));
  EXPECT_THAT(b.rbd->calls, Not(Contains("fence-and-break host-a")));
  EXPECT_EQ(b.host->formats, 0);  // formatted once, by host a
}

TEST_F(LingerOnFakes, AVolumeInUseIsNotGivenUpAndTheRefusalSaysWhere) {
  Lingering("db");
  engine().Mount("db", "c2");  // in use again: still serving, answering "in use"
  FakeNode b = MakeNode("host-b");
  ExpectError([&] { b.engine->Mount("db", "c9"); }, ErrorCode::kBusy,
              {"host-a", "in use on host host-a by 1 mount(s)"});
  EXPECT_EQ(State("db")->TotalRefs(), 1);
  EXPECT_TRUE(host().IsMountPoint(MountPath("db")));
  EXPECT_EQ(cluster().locks.at("db").host_id, "host-a");
  EXPECT_FALSE(b.State("db"));
}

TEST_F(LingerOnFakes, RemoveHereEndsTheLinger) {
  Lingering("db");
  engine().Remove("db");
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(host().IsMountPoint(MountPath("db")));
  EXPECT_FALSE(cluster().registry.contains("db"));
}

TEST_F(LingerOnFakes, RemoveOnAnotherHostAsksTheHolder) {
  Lingering("db");
  FakeNode b = MakeNode("host-b");
  b.engine->Remove("db");
  EXPECT_FALSE(cluster().registry.contains("db"));
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(host().IsMountPoint(MountPath("db")));
}

TEST_F(LingerOnFakes, RollbackHereAndElsewhereEndsTheLinger) {
  Lingering("db");
  engine().CreateSnapshot("db", "s1");
  engine().Rollback("db", "s1", nullptr);
  EXPECT_FALSE(State("db"));
  EXPECT_THAT(rbd().calls, Contains("rollback s1"));
  Lingering("logs");
  engine().CreateSnapshot("logs", "s1");
  FakeNode b = MakeNode("host-b");
  b.engine->Rollback("logs", "s1", nullptr);
  EXPECT_FALSE(State("logs"));
  EXPECT_THAT(b.rbd->calls, Contains("rollback s1"));
}

TEST_F(LingerOnFakes, LockBreakOfALingeringHolderReleasesItInsteadOfFencing) {
  Lingering("db");
  FakeNode b = MakeNode("host-b");
  EXPECT_TRUE(b.engine->BreakLock("db", /*fence=*/true).empty());
  EXPECT_FALSE(Locked("db"));
  EXPECT_FALSE(State("db"));
  EXPECT_THAT(b.rbd->calls, Not(Contains("fence-and-break host-a")));
}

TEST_F(LingerOnFakes, KubernetesOnTheSameHostEndsTheLingerAndAttachesAnew) {
  Lingering("db");
  engine().StageAttach("db", false, "pv-db");
  const auto state = State("db");
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->staged);
  EXPECT_EQ(state->phase, Phase::kAttached);
  EXPECT_EQ(Count(rbd().calls, "attach"), 2);
}

TEST_F(LingerOnFakes, ARestartsReconcileEndsALinger) {
  Lingering("db");
  FakeNode restarted = MakeNode("host-a");  // the same dirs, a new process
  const auto actions = restarted.engine->Reconcile();
  ASSERT_EQ(actions.size(), 1U);
  EXPECT_EQ(actions[0].kind, Engine::ReconcileAction::Kind::kReleased);
  EXPECT_THAT(actions[0].detail, HasSubstr("linger"));
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(Locked("db"));
}

TEST_F(LingerOnFakes, StoppingEndsEveryLinger) {
  Lingering("db");
  Lingering("logs");
  engine().Create("busy", {});
  engine().Mount("busy", "c1");
  engine().EndLingers();
  EXPECT_FALSE(State("db"));
  EXPECT_FALSE(State("logs"));
  EXPECT_EQ(State("busy")->phase, Phase::kMounted);
}

TEST_F(LingerOnFakes, ALingerWhoseMapperDiedIsTornDownByTheNextMount) {
  Lingering("db");
  cluster().dead_devices.insert(State("db")->attachment.device);
  host().filesystems.insert("/dev/fake1");
  engine().Mount("db", "c2");
  EXPECT_EQ(Count(rbd().calls, "attach"), 2);
  EXPECT_EQ(State("db")->phase, Phase::kMounted);
}

}  // namespace
}  // namespace berth::engine::testing
