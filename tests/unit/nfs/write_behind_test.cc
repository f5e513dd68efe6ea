// berth-nfs-fuse's write-behind queue against a fake server: order, errors, bounds, draining.
#include "backends/nfs/fuse/write_behind.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::nfs {
namespace {

using namespace std::chrono_literals;

// Records what reached "the server", in order, and can hold every send until released.
struct FakeServer {
  std::mutex mutex;
  std::vector<std::string> received;  // "file:offset:data"
  std::atomic<bool> hold{false};
  std::atomic<int> fail_with{0};
  std::atomic<int> in_send{0};

  WriteBehind::Sender Sender() {
    return [this](const void* file, const WriteBehind::Job& job) {
      ++in_send;
      while (hold) {
        std::this_thread::sleep_for(1ms);
      }
      --in_send;
      if (const int rc = fail_with.exchange(0); rc != 0) {
        return rc;
      }
      std::lock_guard lock(mutex);
      received.push_back(std::string(static_cast<const char*>(file)) + ":" +
                         std::to_string(job.offset) + ":" + job.data);
      return 0;
    };
  }
  std::vector<std::string> Received() {
    std::lock_guard lock(mutex);
    return received;
  }
};

int Submit(WriteBehind& behind, const std::shared_ptr<WriteBehind::Stream>& stream, uint64_t offset,
           const std::string& data) {
  return behind.Submit(stream, offset, data.data(), data.size(), nullptr);
}

TEST(WriteBehind, AFilesWritesReachTheServerInOrderAndDrainWaitsForThem) {
  FakeServer server;
  WriteBehind behind(server.Sender(), {.workers = 4, .bytes_per_file = 1 << 20});
  static const char kA[] = "a";
  static const char kB[] = "b";
  auto a = behind.Open(kA);
  auto b = behind.Open(kB);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(Submit(behind, a, static_cast<uint64_t>(i), std::to_string(i)), 0);
    ASSERT_EQ(Submit(behind, b, static_cast<uint64_t>(i), std::to_string(i)), 0);
  }
  EXPECT_EQ(behind.Drain(*a), 0);
  EXPECT_EQ(behind.Drain(*b), 0);
  std::vector<std::string> of_a;
  std::vector<std::string> of_b;
  for (const auto& line : server.Received()) {
    (line[0] == 'a' ? of_a : of_b).push_back(line);
  }
  ASSERT_EQ(of_a.size(), 100U);
  ASSERT_EQ(of_b.size(), 100U);
  for (int i = 0; i < 100; ++i) {  // an overwrite of the same range lands last, as made
    EXPECT_EQ(of_a[static_cast<size_t>(i)], "a:" + std::to_string(i) + ":" + std::to_string(i));
  }
}

TEST(WriteBehind, AnErrorIsReportedOnceByTheFilesNextWriteOrDrain) {
  FakeServer server;
  WriteBehind behind(server.Sender(), {});
  static const char kFile[] = "f";
  auto file = behind.Open(kFile);
  server.fail_with = -ENOSPC;
  ASSERT_EQ(Submit(behind, file, 0, "x"), 0);  // answered before the server said no
  EXPECT_EQ(behind.Drain(*file), -ENOSPC);
  EXPECT_EQ(behind.Drain(*file), 0) << "reported once, as NFS does";

  server.fail_with = -EIO;
  ASSERT_EQ(Submit(behind, file, 1, "y"), 0);
  behind.DrainAll();  // errors stay with their file
  EXPECT_EQ(Submit(behind, file, 2, "z"), -EIO) << "the next write returns it";
  EXPECT_EQ(behind.Drain(*file), 0);
  EXPECT_TRUE(server.Received().empty()) << "the failed write and the refused one never landed";
}

TEST(WriteBehind, AWriteWaitsWhileItsFileHasTooMuchQueued) {
  FakeServer server;
  server.hold = true;
  WriteBehind behind(server.Sender(), {.workers = 1, .bytes_per_file = 4});
  static const char kFile[] = "f";
  auto file = behind.Open(kFile);
  ASSERT_EQ(Submit(behind, file, 0, "1234"), 0);
  while (server.in_send == 0) {
    std::this_thread::sleep_for(1ms);  // the worker holds the first write
  }
  ASSERT_EQ(Submit(behind, file, 4, "5678"), 0);  // queued: 4 bytes waiting, at the bound
  auto third = std::async(std::launch::async, [&] { return Submit(behind, file, 8, "9"); });
  EXPECT_EQ(third.wait_for(100ms), std::future_status::timeout) << "over the bound: it waits";
  server.hold = false;
  EXPECT_EQ(third.get(), 0);
  EXPECT_EQ(behind.Drain(*file), 0);
  EXPECT_EQ(server.Received().size(), 3U);
}

TEST(WriteBehind, DrainAllWaitsForWhatWasQueuedBeforeItNotForASteadyWriter) {
  FakeServer server;
  WriteBehind behind(server.Sender(), {.workers = 1, .bytes_per_file = 1 << 20});
  static const char kFile[] = "f";
  auto file = behind.Open(kFile);
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (uint64_t i = 0; writing; ++i) {
      Submit(behind, file, i, "w");
    }
  });
  // The writer's queue never empties; DrainAll and Drain still return.
  std::this_thread::sleep_for(20ms);
  auto all = std::async(std::launch::async, [&] { behind.DrainAll(); });
  auto one = std::async(std::launch::async, [&] { return behind.Drain(*file); });
  EXPECT_EQ(all.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(one.wait_for(10s), std::future_status::ready);
  writing = false;
  writer.join();
}

TEST(WriteBehind, DestroyingItSendsWhatIsQueued) {
  FakeServer server;
  static const char kFile[] = "f";
  {
    WriteBehind behind(server.Sender(), {});
    auto file = behind.Open(kFile);
    for (int i = 0; i < 10; ++i) {
      ASSERT_EQ(Submit(behind, file, static_cast<uint64_t>(i), "x"), 0);
    }
  }
  EXPECT_EQ(server.Received().size(), 10U);
}

}  // namespace
}  // namespace berth::nfs
