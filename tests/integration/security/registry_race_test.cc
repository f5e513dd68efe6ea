// Issue 14, hole 4: registry updates from two hosts never lose each other's. Whole-record,
// unconditional writes let a resize on one host erase the format ledger that a first mount on
// another had just written (one step from a second mkfs), and let two hosts creating one name
// both think they won.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "engine/engine.h"
#include "engine/record_update.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;

// Rounds of the full-stack race: 200, fewer in the slower sanitizer build
// (BERTH_RACE_ROUNDS_DEFAULT); BERTH_RACE_ROUNDS overrides.
int RaceRounds() {
  const char* text = std::getenv("BERTH_RACE_ROUNDS");
  return text != nullptr ? std::atoi(text) : BERTH_RACE_ROUNDS_DEFAULT;
}

// Both hosts read the same version, then one records a format while the other records a new
// size: one compare-and-set loses and re-applies its change to what the other wrote.
TEST(RegistryRace, ALedgerWriteAndAResizeOnTwoHostsBothLand) {
  engine::Engine a(LabConfig("ledger-a"));
  engine::Engine b(LabConfig("resize-b"));
  const std::string name = UniqueName("ledger");
  a.Create(name, {{"size", "16M"}});
  VolumeCleanup cleanup(a, name);
  engine::Backend& on_a = a.BackendFor("rbd");
  engine::Backend& on_b = b.BackendFor("rbd");
  uint64_t size = 16 * kMiB;
  for (int round = 0; round < 200; ++round) {
    SCOPED_TRACE(round);
    auto read_a = on_a.Lookup(name).value();
    auto read_b = on_b.Lookup(name).value();
    ASSERT_FALSE(read_a.formatted());
    const std::string stamp = "2026-12-03T10:00:00Z round " + std::to_string(round);
    size += kMiB;
    std::thread ledger([&] {
      engine::ChangeRecord(on_a, read_a, [&](engine::VolumeRecord& r) {
        r.formatted_at = stamp;
        r.formatted_by = a.config().host_id;
      });
    });
    std::thread resize([&] {
      engine::ChangeRecord(on_b, read_b, [&](engine::VolumeRecord& r) {
        r.spec.size_bytes = std::max(r.spec.size_bytes, size);
        r.formatted_at.clear();  // a careless update: the ledger is write-once all the same
      });
    });
    ledger.join();
    resize.join();
    auto now = on_a.Lookup(name).value();
    ASSERT_EQ(now.formatted_at, stamp) << "the format ledger was lost";
    ASSERT_EQ(now.formatted_by, a.config().host_id);
    ASSERT_EQ(now.spec.size_bytes, size) << "the resize was lost";
    // For the next round only: the test clears the ledger with a raw compare-and-set.
    auto cleared = now;
    cleared.formatted_at.clear();
    cleared.formatted_by.clear();
    ASSERT_TRUE(on_a.UpdateRecord(now, cleared));
  }
}

// The same through the engine's front door, with real work: host A's first mount formats and
// records it while host B grows the volume, on a new volume each round. Four lanes race at once
// (each its own volume) so that the rounds, mostly waits on Ceph, fit in the suite's time.
TEST(RegistryRace, AFirstMountAndAResizeOnTwoHostsBothLand) {
  engine::Engine a(LabConfig("mount-a"));
  engine::Engine b(LabConfig("grow-b"));
  const int rounds = RaceRounds();
  constexpr int kLanes = 4;
  std::atomic<int> next{0};
  std::atomic<int> lost{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(failures_mu);
    failures.push_back(what);
  };
  auto lane = [&] {
    for (int round = next++; round < rounds; round = next++) {
      const std::string name = UniqueName("mount-race");
      try {
        a.Create(name, {{"size", "32M"}});
        VolumeCleanup cleanup(a, name);
        std::optional<engine::MountResult> mounted;
        std::exception_ptr mount_error;
        std::thread mount([&] {
          try {
            mounted = a.Mount(name, "c1");
          } catch (...) {
            mount_error = std::current_exception();
          }
        });
        b.GrowStorage(name, 48 * kMiB);
        mount.join();
        if (mount_error) {
          std::rethrow_exception(mount_error);
        }
        const auto record = b.Get(name).record;
        if (!mounted || !mounted->formatted) {
          fail("round " + std::to_string(round) + ": the first mount did not format");
        }
        if (!record.formatted() || record.formatted_by != a.config().host_id) {
          ++lost;
          fail("round " + std::to_string(round) + ": the format ledger was lost");
        }
        if (record.spec.size_bytes != 48 * kMiB) {
          fail("round " + std::to_string(round) + ": the resize was lost");
        }
        a.Unmount(name, "c1");
      } catch (const std::exception& e) {
        fail("round " + std::to_string(round) + ": " + e.what());
      }
    }
  };
  std::vector<std::thread> lanes;
  for (int i = 0; i < kLanes; ++i) {
    lanes.emplace_back(lane);
  }
  for (auto& t : lanes) {
    t.join();
  }
  for (const auto& failure : failures) {
    ADD_FAILURE() << failure;
  }
  EXPECT_EQ(lost.load(), 0);
  std::printf("first mount on A against a grow on B: %d rounds, %zu failed, %d ledgers lost\n",
              rounds, failures.size(), lost.load());
}

// Two hosts create one name at once with different sizes: exactly one wins, the other is told
// the volume exists with another spec, and the winner's entry and image survive.
TEST(RegistryRace, ConcurrentCreatesOfOneNameHaveExactlyOneWinner) {
  engine::Engine a(LabConfig("create-a"));
  engine::Engine b(LabConfig("create-b"));
  LabCluster cluster;
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    const std::string name = UniqueName("dup");
    std::atomic<bool> go{false};
    std::optional<ErrorCode> error_a, error_b;
    auto create = [&](engine::Engine& engine, const char* size, std::optional<ErrorCode>& error) {
      while (!go) {
        std::this_thread::yield();
      }
      try {
        engine.Create(name, {{"size", size}});
      } catch (const Error& e) {
        error = e.code();
      }
    };
    std::thread on_a([&] { create(a, "16M", error_a); });
    std::thread on_b([&] { create(b, "32M", error_b); });
    go = true;
    on_a.join();
    on_b.join();
    VolumeCleanup cleanup(a, name);
    ASSERT_NE(error_a.has_value(), error_b.has_value()) << "not exactly one winner";
    const bool a_won = !error_a.has_value();
    EXPECT_EQ(a_won ? *error_b : *error_a, ErrorCode::kConflict);
    const auto record = a.Get(name).record;
    EXPECT_EQ(record.spec.size_bytes, (a_won ? 16 : 32) * kMiB) << "the winner's entry was lost";
    EXPECT_EQ(record.created_by, (a_won ? a : b).config().host_id);
    const auto images = cluster.Images();
    EXPECT_NE(std::find(images.begin(), images.end(), name), images.end())
        << "the winner's image is gone";
  }
}

}  // namespace
}  // namespace berth::testing
