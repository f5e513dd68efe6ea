// Randomized cycles of Mount, write, Unmount and kill -9 of berthd, at random moments (between
// requests and in the middle of them), with a sha256 check of every file ever written.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/e2e/docker/docker_lab.h"
#include "tests/e2e/reliability/crash_host.h"
#include "tests/integration/engine/lab.h"

namespace berth::e2e {
namespace {

using nlohmann::json;

int Cycles() {
  const char* text = std::getenv("BERTH_RANDOM_CYCLES");
  return text != nullptr ? std::atoi(text) : BERTH_RANDOM_CYCLES_DEFAULT;
}

// What the test knows each volume must hold.
struct Volume {
  std::string name;
  std::set<std::string> refs;                // mount IDs berthd holds
  std::map<std::string, std::string> files;  // file -> sha256
};

class RandomCycles : public ::testing::Test {
 protected:
  RandomCycles() : host_("random-" + testing::ProcessToken()) {}

  // The references berthd really recorded for `volume` (after a request whose reply was lost,
  // the test cannot know whether it took effect).
  std::set<std::string> RecordedRefs(const std::string& volume) {
    std::set<std::string> refs;
    if (auto text = ReadFileIfExists(host_.state_dir() + "/volumes/" + volume + ".json")) {
      const json state = json::parse(*text);
      const json refs_json = state.contains("refs") ? state["refs"] : json::object();
      for (const auto& [id, count] : refs_json.items()) {
        EXPECT_EQ(count.get<int>(), 1) << volume << " holds " << id << " twice";
        refs.insert(id);
      }
    }
    return refs;
  }

  // Sends the request while, maybe, a kill -9 lands after a random delay. True if berthd died.
  bool CallMaybeKilled(const std::string& endpoint, const json& body, bool kill) {
    std::thread killer;
    if (kill) {
      const auto delay = std::chrono::milliseconds(std::uniform_int_distribution(0, 120)(rng_));
      killer = std::thread([this, delay] {
        std::this_thread::sleep_for(delay);
        host_.Kill();
      });
    }
    auto reply = host_.Call(endpoint, body);
    if (killer.joinable()) {
      killer.join();
      host_.Start();  // its reconcile runs before it answers again
      return true;
    }
    EXPECT_EQ(reply.value("Err", ""), "") << endpoint << " " << body.dump();
    return false;
  }

  void VerifyFiles(const Volume& v, const std::string& path) {
    for (const auto& [file, sum] : v.files) {
      ASSERT_EQ(testing::Sha256(path + "/" + file), sum) << v.name << "/" << file << " changed";
    }
  }

  CrashHost host_;
  std::mt19937 rng_;
};

TEST_F(RandomCycles, MountWriteUnmountAndKill9LoseNothing) {
  const unsigned seed = std::getenv("BERTH_RANDOM_SEED") != nullptr
                            ? static_cast<unsigned>(std::atoll(std::getenv("BERTH_RANDOM_SEED")))
                            : std::random_device{}();
  rng_.seed(seed);
  std::cout << "seed " << seed << " (BERTH_RANDOM_SEED reproduces it), " << Cycles() << " cycles\n";
  std::vector<Volume> volumes(4);
  host_.Start();
  testing::Cleanups cleanups;
  cleanups.Add([&] {
    host_.Stop();
    host_.Start();
    for (auto& v : volumes) {
      for (const auto& id : RecordedRefs(v.name)) {
        host_.Call("Unmount", Ref(v.name, id));
      }
      Eventually([&] { return !VolumeMapped(v.name); });
      host_.Call("Remove", json{{"Name", v.name}});
    }
    host_.Stop();
  });
  for (auto& v : volumes) {
    v.name = UniqueVolume("random");
    host_.CallOk("Create", {{"Name", v.name}, {"Opts", {{"size", "64M"}}}});
    // Formatted once up front: a kill in the middle of mkfs is the crash tests' business.
    host_.CallOk("Mount", Ref(v.name, "format"));
    host_.CallOk("Unmount", Ref(v.name, "format"));
  }

  int kills = 0;
  int mounts = 0;
  std::bernoulli_distribution coin(0.5);
  std::bernoulli_distribution rarely(0.25);
  for (int cycle = 0; cycle < Cycles() && !HasFailure(); ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle) + ", seed " + std::to_string(seed));
    Volume& v = volumes[std::uniform_int_distribution<size_t>(0, volumes.size() - 1)(rng_)];
    const std::string id = "c" + std::to_string(cycle);
    const bool fresh = v.refs.empty();

    // Mount, maybe killed midway.
    const bool kill_mount = rarely(rng_);
    kills += CallMaybeKilled("Mount", Ref(v.name, id), kill_mount);
    if (kill_mount) {
      v.refs = RecordedRefs(v.name);
      if (!v.refs.contains(id)) {
        host_.CallOk("Mount", Ref(v.name, id));  // the container start is retried
      }
    }
    v.refs.insert(id);
    ++mounts;
    const std::string path = host_.CallOk("Path", {{"Name", v.name}}).value("Mountpoint", "");
    ASSERT_FALSE(path.empty());
    if (fresh) {
      VerifyFiles(v, path);  // a fresh attach: everything written before must be there
    }

    // Write a file of random size (64-512 KiB) and remember its checksum.
    const std::string file = "f" + std::to_string(cycle);
    const auto written =
        RunCommand({"dd", "if=/dev/urandom", "of=" + path + "/" + file, "bs=64k",
                    "count=" + std::to_string(std::uniform_int_distribution(1, 8)(rng_)),
                    "conv=fsync", "status=none"});
    ASSERT_EQ(written.exit_code, 0) << written.err;
    v.files[file] = testing::Sha256(path + "/" + file);

    // kill -9 between requests.
    if (rarely(rng_)) {
      host_.Kill();
      host_.Start();
      ++kills;
      EXPECT_EQ(RecordedRefs(v.name), v.refs) << "references changed across a restart";
    }

    // Unmount one reference of this volume, maybe killed midway.
    if (coin(rng_)) {
      auto it = v.refs.begin();
      std::advance(it, std::uniform_int_distribution<size_t>(0, v.refs.size() - 1)(rng_));
      const std::string victim = *it;
      const bool kill_unmount = rarely(rng_);
      kills += CallMaybeKilled("Unmount", Ref(v.name, victim), kill_unmount);
      if (kill_unmount) {
        host_.CallOk("Unmount", Ref(v.name, victim));  // a retry of an unknown ID is harmless
      }
      v.refs.erase(victim);
    }
  }
  std::cout << mounts << " mounts, " << kills << " kill -9 of berthd\n";
  EXPECT_GT(kills, 0);

  // The end: unmount everything; nothing may stay mounted, mapped or locked; all files intact.
  engine::Engine observer(testing::LabConfig("observer"));
  for (auto& v : volumes) {
    for (const auto& id : v.refs) {
      host_.CallOk("Unmount", Ref(v.name, id));
    }
    v.refs.clear();
    EXPECT_TRUE(Eventually([&] {
      return !VolumeMounted(v.name) && !VolumeMapped(v.name) && !host_.HasState(v.name);
    })) << v.name
        << " leaked a mount or mapping";
    EXPECT_TRUE(observer.Locks(v.name).holders.empty()) << v.name << " leaked its lock";
    const std::string path = host_.CallOk("Mount", Ref(v.name, "final")).value("Mountpoint", "");
    VerifyFiles(v, path);
    host_.CallOk("Unmount", Ref(v.name, "final"));
    EXPECT_EQ(host_.FormatCount(v.name), 1) << v.name << " was formatted again";
  }
}

}  // namespace
}  // namespace berth::e2e
