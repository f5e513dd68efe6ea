// Benchmark client for berthd's socket: one keep-alive connection, requests sent one at a time,
// latencies printed as "label count p50_us p99_us total_ms". Not a test: it asserts no timings.
//
//   berth_bench_plugin_latency SOCKET create PREFIX COUNT [SIZE]  Create PREFIX-0000.. (size 64M)
//   berth_bench_plugin_latency SOCKET remove PREFIX COUNT         Remove them
//   berth_bench_plugin_latency SOCKET latency PREFIX COUNT ROUNDS
//       ROUNDS rounds of Capabilities, List, Get (of the volumes in turn), interleaved
//   berth_bench_plugin_latency SOCKET calls
//       reads "ENDPOINT VOLUME ID" lines on stdin and answers each with a line, "ok" or
//       "error: ..." (then exits): a script's client that keeps its connection, as dockerd's does,
//       so a timed call pays no process start of its own (curl's is ~6 ms)
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/percentile.h"
#include "tests/support/plugin_client.h"

namespace {

using berth::testing::NameBody;
using Clock = std::chrono::steady_clock;

// One keep-alive connection: a reply that is an error, or that closes it, stops the benchmark.
class Client {
 public:
  explicit Client(const std::string& path) : client_(path) {}

  nlohmann::json Call(const std::string& endpoint, const std::string& body) {
    auto reply = client_.Call(endpoint, body);
    if (!reply.Ok()) {
      throw std::runtime_error(endpoint + " " + body + ": " + reply.body);
    }
    if (!reply.keep_alive) {
      throw std::runtime_error("berthd closed the connection");
    }
    return reply.json;
  }

 private:
  berth::testing::PluginClient client_;
};

std::string VolumeName(const std::string& prefix, int i) {
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-%04d", i);
  return prefix + suffix;
}

class Samples {
 public:
  template <typename F>
  void Time(F&& f) {
    auto start = Clock::now();
    f();
    us_.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }

  void Print(const std::string& label) {
    std::sort(us_.begin(), us_.end());
    double total = 0;
    for (double us : us_) {
      total += us;
    }
    std::printf("%s %zu %.0f %.0f %.1f\n", label.c_str(), us_.size(),
                berth::testing::Percentile(us_, 0.50), berth::testing::Percentile(us_, 0.99),
                total / 1000);
  }

 private:
  std::vector<double> us_;
};

// One call per line of stdin, one line of answer per call on stdout.
int ServeCalls(Client& client) {
  std::string endpoint, volume, id;
  while (std::cin >> endpoint >> volume >> id) {
    try {
      client.Call("VolumeDriver." + endpoint, nlohmann::json{{"Name", volume}, {"ID", id}}.dump());
    } catch (const std::exception& e) {
      std::cout << "error: " << e.what() << std::endl;
      return 1;
    }
    std::cout << "ok" << std::endl;  // flushed: the script waits for it
  }
  return 0;
}

int Run(const std::vector<std::string>& args) {
  if (args.size() == 2 && args[1] == "calls") {
    Client client(args[0]);
    return ServeCalls(client);
  }
  if (args.size() < 4) {
    throw std::invalid_argument(
        "usage: SOCKET create|remove|latency PREFIX COUNT [SIZE|ROUNDS], or SOCKET calls");
  }
  Client client(args[0]);
  const std::string& mode = args[1];
  const std::string& prefix = args[2];
  const int count = std::stoi(args[3]);
  if (mode == "create" || mode == "remove") {
    const std::string size = args.size() > 4 ? args[4] : "64M";
    const std::string endpoint = mode == "create" ? "VolumeDriver.Create" : "VolumeDriver.Remove";
    Samples samples;
    for (int i = 0; i < count; ++i) {
      auto name = VolumeName(prefix, i);
      nlohmann::json body = {{"Name", name}};
      if (mode == "create") {
        body["Opts"] = {{"size", size}};
      }
      samples.Time([&] { client.Call(endpoint, body.dump()); });
    }
    samples.Print(mode);
    return 0;
  }
  if (mode == "latency" && args.size() == 5) {
    const int rounds = std::stoi(args[4]);
    std::map<std::string, Samples> samples;
    size_t listed = 0;
    for (int i = 0; i < rounds; ++i) {
      samples["capabilities"].Time([&] { client.Call("VolumeDriver.Capabilities", "{}"); });
      samples["list"].Time(
          [&] { listed = client.Call("VolumeDriver.List", "{}")["Volumes"].size(); });
      auto body = NameBody(VolumeName(prefix, i % count));
      samples["get"].Time([&] {
        if (!client.Call("VolumeDriver.Get", body).contains("Volume")) {
          throw std::runtime_error("Get " + body + ": no such volume");
        }
      });
    }
    for (auto& [label, s] : samples) {
      s.Print(label);
    }
    std::printf("listed %zu\n", listed);
    return 0;
  }
  throw std::invalid_argument("unknown mode or wrong arguments: " + mode);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "berth_bench_plugin_latency: " << e.what() << "\n";
    return 1;
  }
}
