// berthd under load (issue 7): 64 clients send List, Get, Capabilities and Path for
// BERTH_LOAD_SECONDS while 8 volumes are mounted and unmounted in a loop, each Mount with a new
// ID. Every reply must be HTTP 200 with an empty Err, and Get and Path of a volume in the middle
// of its unmount must still answer correctly. Latencies are printed, never asserted, beside the
// same calls' latencies from one client before the load starts (issue 19). The clients run
// closed loop, or BERTH_LOAD_RATE requests a second each.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"
#include "tests/support/berthd_process.h"
#include "tests/support/percentile.h"
#include "tests/support/plugin_client.h"

#ifndef BERTH_LOAD_DEFAULT_SECONDS
#define BERTH_LOAD_DEFAULT_SECONDS 30
#endif

namespace berth::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kReaders = 64;
constexpr int kVolumes = 8;
const std::vector<std::string> kReadEndpoints = {"List", "Get", "Capabilities", "Path"};

int LoadSeconds() {
  const char* env = std::getenv("BERTH_LOAD_SECONDS");
  if (env != nullptr && *env != '\0') {
    const int seconds = std::atoi(env);
    if (seconds <= 0) {
      throw std::invalid_argument(std::string("BERTH_LOAD_SECONDS='") + env +
                                  "' is not a positive number of seconds");
    }
    return seconds;
  }
  return BERTH_LOAD_DEFAULT_SECONDS;
}

// Requests a second each reader sends (BERTH_LOAD_RATE); 0, the default, is closed loop: each
// reader sends its next request as soon as the last reply arrives.
double LoadRate() {
  const char* env = std::getenv("BERTH_LOAD_RATE");
  if (env == nullptr || *env == '\0') {
    return 0;
  }
  char* end = nullptr;
  const double rate = std::strtod(env, &end);
  // NaN fails both comparisons.
  if (*end != '\0' || !(rate == 0 || (rate >= 0.1 && rate <= 10000))) {
    throw std::invalid_argument(std::string("BERTH_LOAD_RATE='") + env +
                                "' is not 0 (closed loop) or a number of requests a second from "
                                "0.1 to 10000");
  }
  return rate;
}

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Latencies and errors of one endpoint; one per thread, merged at the end.
struct Stats {
  std::vector<double> ms;
  long errors = 0;
  void Merge(const Stats& other) {
    ms.insert(ms.end(), other.ms.begin(), other.ms.end());
    errors += other.errors;
  }
};

// A Docker mount ID: 64 hex digits, new for every Mount.
std::string MountId(int volume, long cycle) {
  char id[65];
  std::snprintf(id, sizeof id, "%016x%016lx%032x", 0xbe47 + volume, cycle, 0);
  return id;
}

class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = LabDir() + "/tests/" + UniqueName("load");
    config_path_ = WriteBerthdConfig(base_, "load-host");
    config_ = engine::LoadConfig(config_path_);
    berthd_ = std::make_unique<BerthdProcess>(BERTH_BERTHD_PATH, config_path_,
                                              base_ + "/berthd.sock", base_ + "/berthd.log");
    for (int i = 0; i < kVolumes; ++i) {
      volumes_.push_back(UniqueName("load-" + std::to_string(i)));
    }
  }

  // Unmounts every ID a Mount handed out and removes the volumes, even after a failure; what
  // berthd cannot clean up, an engine in this process does once berthd is stopped.
  void TearDown() override {
    std::set<std::string> left;
    if (berthd_) {
      PluginClient client(berthd_->socket());
      for (const auto& name : created_) {
        try {
          for (const auto& id : Outstanding(name)) {
            client.CallOk("VolumeDriver.Unmount",
                          nlohmann::json{{"Name", name}, {"ID", id}}.dump());
          }
          client.CallOk("VolumeDriver.Remove", NameBody(name));
        } catch (const std::exception& e) {
          ADD_FAILURE() << "cleanup of " << name << " through berthd failed: " << e.what();
          left.insert(name);
        }
      }
      const bool graceful = berthd_->Stop();
      const std::string log = berthd_->LogText();
      for (const char* report : {"AddressSanitizer", "LeakSanitizer", "runtime error:"}) {
        EXPECT_EQ(log.find(report), std::string::npos) << "berthd log: " << log;
      }
      EXPECT_TRUE(graceful) << "berthd did not exit on SIGTERM";
      EXPECT_NE(log.find("berthd stopped"), std::string::npos) << "berthd drains and exits";
    }
    if (!left.empty()) {
      engine::Engine engine(config_);
      for (const auto& name : left) {
        ReleaseAndRemove(engine, name);
      }
    }
    EXPECT_TRUE(LoopsUnder(base_).empty());
  }

  std::vector<std::string> Outstanding(const std::string& name) {
    std::lock_guard lock(mu_);
    return {outstanding_[name].begin(), outstanding_[name].end()};
  }
  void Track(const std::string& name, const std::string& id, bool mounted) {
    std::lock_guard lock(mu_);
    if (mounted) {
      outstanding_[name].insert(id);
    } else {
      outstanding_[name].erase(id);
    }
  }
  void Complain(const std::string& what) {
    std::lock_guard lock(mu_);
    if (complaints_.size() < 20) {
      complaints_.push_back(what);
    }
  }
  std::string MountPath(const std::string& name) const { return config_.mount_root + "/" + name; }

  // How a reader sends: closed loop (interval 0) or on a schedule, one request every `interval`
  // from `begin` on; and at most `limit` requests.
  struct Pace {
    Clock::duration interval{0};
    Clock::time_point begin;
    long limit = -1;
  };

  // One reader: the four endpoints in turn, Get and Path of the volumes in turn; checks every
  // answer, not just its status. On a schedule, a request's latency counts from the time it was
  // due, so a late send (a reply that came back late) is not hidden.
  std::map<std::string, Stats> Read(int reader, const std::atomic<bool>& stop, const Pace& pace,
                                    std::atomic<long>& path_mounted,
                                    std::atomic<long>& path_unmounted) {
    std::map<std::string, Stats> stats;
    PluginClient client(berthd_->socket());
    // Readers on a schedule are spread evenly over the interval.
    const auto offset = pace.interval * reader / kReaders;
    for (long i = reader, sent = 0; !stop && sent != pace.limit; ++i, ++sent) {
      const std::string& endpoint = kReadEndpoints[i % kReadEndpoints.size()];
      const std::string& volume = volumes_[(i / kReadEndpoints.size()) % kVolumes];
      const bool named = endpoint == "Get" || endpoint == "Path";
      Stats& s = stats[endpoint];
      auto start = Clock::now();
      if (pace.interval.count() > 0) {
        start = pace.begin + offset + pace.interval * sent;
        std::this_thread::sleep_until(start);
      }
      std::string problem;
      try {
        auto reply = client.Call("VolumeDriver." + endpoint, named ? NameBody(volume) : "{}");
        s.ms.push_back(MsSince(start));
        const auto& json = reply.json;
        if (!reply.Ok()) {
          problem = "HTTP " + std::to_string(reply.status) + " " + reply.body;
        } else if (endpoint == "List") {
          std::set<std::string> listed;
          for (const auto& v : json.value("Volumes", nlohmann::json::array())) {
            listed.insert(v.value("Name", ""));
          }
          for (const auto& v : volumes_) {
            if (!listed.contains(v)) {
              problem = "List misses " + v + ": " + reply.body;
            }
          }
        } else if (endpoint == "Capabilities") {
          if (json.value("Capabilities", nlohmann::json::object()).value("Scope", "") != "global") {
            problem = reply.body;
          }
        } else {
          const nlohmann::json& holder =
              endpoint == "Get" ? json.value("Volume", nlohmann::json()) : json;
          if (endpoint == "Get" && holder.value("Name", "") != volume) {
            problem = "no such volume: " + reply.body;
          } else if (holder.contains("Mountpoint") && holder["Mountpoint"] != MountPath(volume)) {
            problem = "wrong Mountpoint: " + reply.body;
          } else if (endpoint == "Path") {
            ++(holder.contains("Mountpoint") ? path_mounted : path_unmounted);
          }
        }
      } catch (const std::exception& e) {
        s.ms.push_back(MsSince(start));
        problem = e.what();
      }
      if (!problem.empty()) {
        ++s.errors;
        Complain(endpoint + " " + volume + ": " + problem);
      }
    }
    return stats;
  }

  // One volume mounted and unmounted in a loop, each Mount with a new ID.
  long Cycle(int index, const std::atomic<bool>& stop, Stats& mounts, Stats& unmounts) {
    const std::string& name = volumes_[index];
    PluginClient client(berthd_->socket());
    long cycles = 0;
    for (long cycle = 0; !stop; ++cycle) {
      const std::string id = MountId(index, cycle);
      const std::string body = nlohmann::json{{"Name", name}, {"ID", id}}.dump();
      auto start = Clock::now();
      try {
        auto reply = client.Call("VolumeDriver.Mount", body);
        mounts.ms.push_back(MsSince(start));
        if (!reply.Ok() || reply.json.value("Mountpoint", "") != MountPath(name)) {
          ++mounts.errors;
          Complain("Mount " + name + ": HTTP " + std::to_string(reply.status) + " " + reply.body);
          continue;
        }
        Track(name, id, true);
        if (!IsMounted(MountPath(name))) {
          ++mounts.errors;
          Complain("Mount " + name + " replied, but nothing is mounted at " + MountPath(name));
        }
        start = Clock::now();
        reply = client.Call("VolumeDriver.Unmount", body);
        unmounts.ms.push_back(MsSince(start));
        if (!reply.Ok()) {
          ++unmounts.errors;
          Complain("Unmount " + name + ": HTTP " + std::to_string(reply.status) + " " + reply.body);
          continue;
        }
        Track(name, id, false);
        ++cycles;
      } catch (const std::exception& e) {
        ++mounts.errors;
        Complain(e.what());
      }
    }
    return cycles;
  }

  std::string base_;
  std::string config_path_;
  engine::Config config_;
  std::unique_ptr<BerthdProcess> berthd_;
  std::vector<std::string> volumes_;
  std::vector<std::string> created_;
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> outstanding_;
  std::vector<std::string> complaints_;
};

TEST_F(LoadTest, ReadsStayCorrectWhileVolumesMountAndUnmount) {
  const int seconds = LoadSeconds();
  const double rate = LoadRate();
  PluginClient client(berthd_->socket());
  for (const auto& name : volumes_) {
    client.CallOk("VolumeDriver.Create",
                  nlohmann::json{{"Name", name}, {"Opts", {{"size", "64M"}}}}.dump());
    created_.push_back(name);
    // The first mount formats: done here, so the timed cycles are the steady state.
    const std::string body = nlohmann::json{{"Name", name}, {"ID", "warm-up"}}.dump();
    Track(name, "warm-up", true);
    client.CallOk("VolumeDriver.Mount", body);
    client.CallOk("VolumeDriver.Unmount", body);
    Track(name, "warm-up", false);
  }

  std::atomic<bool> stop{false};
  std::atomic<long> path_mounted{0};
  std::atomic<long> path_unmounted{0};
  // The same calls from one reader with nothing else going on: the idle latencies the loaded
  // ones are compared with.
  std::atomic<long> idle_mounted{0};
  std::atomic<long> idle_unmounted{0};
  Pace once;
  once.limit = 100 * static_cast<long>(kReadEndpoints.size());
  auto idle = Read(0, stop, once, idle_mounted, idle_unmounted);
  for (const auto& [endpoint, s] : idle) {
    EXPECT_EQ(s.errors, 0) << endpoint << " with nothing else going on";
  }
  Pace pace;
  if (rate > 0) {
    pace.interval =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1 / rate));
    // Time for the readers to start and connect before their first request is due.
    pace.begin = Clock::now() + std::chrono::milliseconds(500);
  }
  std::vector<std::map<std::string, Stats>> reader_stats(kReaders);
  std::vector<Stats> mount_stats(kVolumes);
  std::vector<Stats> unmount_stats(kVolumes);
  std::vector<long> cycles(kVolumes, 0);
  const auto start = Clock::now();
  {
    std::vector<std::jthread> threads;
    // Declared after the threads: on any exit from this scope, the workers are told to stop
    // before they are joined.
    struct StopOnExit {
      std::atomic<bool>& stop;
      ~StopOnExit() { stop = true; }
    } stop_on_exit{stop};
    for (int v = 0; v < kVolumes; ++v) {
      threads.emplace_back(
          [&, v] { cycles[v] = Cycle(v, stop, mount_stats[v], unmount_stats[v]); });
    }
    for (int r = 0; r < kReaders; ++r) {
      threads.emplace_back(
          [&, r] { reader_stats[r] = Read(r, stop, pace, path_mounted, path_unmounted); });
    }
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
  }
  const double elapsed = MsSince(start) / 1000;

  std::map<std::string, Stats> totals;
  for (const auto& per_reader : reader_stats) {
    for (const auto& [endpoint, s] : per_reader) {
      totals[endpoint].Merge(s);
    }
  }
  long total_cycles = 0;
  for (int v = 0; v < kVolumes; ++v) {
    totals["Mount"].Merge(mount_stats[v]);
    totals["Unmount"].Merge(unmount_stats[v]);
    total_cycles += cycles[v];
  }

  std::printf("\nberthd load: %d readers (%s), %d volumes cycling, %.1f s\n", kReaders,
              rate > 0 ? (std::to_string(rate) + " requests/s each").c_str() : "closed loop",
              kVolumes, elapsed);
  std::printf("%-14s %9s %9s %9s %9s %9s %7s\n", "endpoint", "requests", "p50 ms", "p99 ms",
              "idle p50", "p99/idle", "errors");
  for (const std::string endpoint : {"List", "Get", "Capabilities", "Path", "Mount", "Unmount"}) {
    auto& s = totals[endpoint];
    std::sort(s.ms.begin(), s.ms.end());
    auto& quiet = idle[endpoint].ms;
    std::sort(quiet.begin(), quiet.end());
    if (quiet.empty()) {  // Mount and Unmount: not measured idle
      std::printf("%-14s %9zu %9.2f %9.2f %9s %9s %7ld\n", endpoint.c_str(), s.ms.size(),
                  Percentile(s.ms, 0.50), Percentile(s.ms, 0.99), "-", "-", s.errors);
      continue;
    }
    const double idle_p50 = Percentile(quiet, 0.50);
    std::printf("%-14s %9zu %9.2f %9.2f %9.3f %9.1f %7ld\n", endpoint.c_str(), s.ms.size(),
                Percentile(s.ms, 0.50), Percentile(s.ms, 0.99), idle_p50,
                Percentile(s.ms, 0.99) / idle_p50, s.errors);
  }
  std::printf("mount/unmount cycles: %ld (per volume:", total_cycles);
  for (long c : cycles) {
    std::printf(" %ld", c);
  }
  std::printf("); Path answered mounted %ld, unmounted %ld times\n\n", path_mounted.load(),
              path_unmounted.load());
  std::fflush(stdout);

  for (const auto& complaint : complaints_) {
    ADD_FAILURE() << complaint;
  }
  for (const auto& [endpoint, s] : totals) {
    EXPECT_EQ(s.errors, 0) << endpoint;
  }
  for (const auto& endpoint : kReadEndpoints) {
    EXPECT_GE(totals[endpoint].ms.size(), 100u) << endpoint << " got too few requests to judge";
  }
  for (int v = 0; v < kVolumes; ++v) {
    EXPECT_GE(cycles[v], 1) << volumes_[v] << " never completed a mount/unmount cycle";
  }
  // Both answers were exercised: Path of a mounted volume and of one between mounts.
  EXPECT_GT(path_mounted.load(), 0);
  EXPECT_GT(path_unmounted.load(), 0);
}

}  // namespace
}  // namespace berth::testing
