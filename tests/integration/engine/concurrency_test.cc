// Operations on different volumes run in parallel: eight mounts overlap in time, as the log
// shows, and all succeed.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <regex>
#include <thread>

#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

// Keeps formatted log lines in memory so the test can read what the engine logged.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

TEST(ConcurrencyTest, EightVolumesMountInParallel) {
  auto sink = std::make_shared<CaptureSink>();
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  spdlog::set_level(spdlog::level::info);

  engine::Engine engine(LabConfig("host-a"));
  std::vector<std::string> names;
  for (int i = 0; i < 8; ++i) {
    names.push_back(UniqueName("par"));
    engine.Create(names.back(), {{"size", "64M"}});
  }
  std::vector<std::string> errors(names.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < names.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        engine.Mount(names[i], "c");
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  spdlog::set_default_logger(previous);

  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(errors[i], "") << names[i];
    EXPECT_TRUE(IsMounted(engine.config().mount_root + "/" + names[i])) << names[i];
  }
  // Replay the log: how many mounts were between "begins" and "ends" at the same time?
  const std::regex begin(R"(^mount (\S+) \(c\) begins$)");
  const std::regex end(R"(^mount (\S+) \(c\) ends)");
  int open = 0;
  int max_open = 0;
  for (const auto& line : sink->lines()) {
    if (std::regex_search(line, begin)) {
      max_open = std::max(max_open, ++open);
    } else if (std::regex_search(line, end)) {
      --open;
    }
  }
  EXPECT_GE(max_open, 2) << "mounts of different volumes must overlap";
  RecordProperty("max_concurrent_mounts", max_open);
  std::printf("max concurrent mounts seen in the log: %d of %zu\n", max_open, names.size());

  for (const auto& name : names) {
    ReleaseAndRemove(engine, name);
  }
  EXPECT_TRUE(LoopsUnder(engine.config().state_dir).empty());
}

}  // namespace
}  // namespace berth::testing
