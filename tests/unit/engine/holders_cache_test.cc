// The holders copy's coherence rules: per volume, within the bound, and a read that raced a
// change of that volume's lock (or a lost watch) never puts the old holders back.
#include "engine/holders_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace berth::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::vector<HolderInfo> HeldBy(const std::string& host) {
  return {{host, "client.4121", "127.0.0.1:0/1"}};
}

class HoldersCacheTest : public ::testing::Test {
 protected:
  HoldersCache cache_{seconds(2), 3};
  const HoldersCache::Clock::time_point t0_ = HoldersCache::Clock::now();
};

TEST_F(HoldersCacheTest, ServesEachVolumeWithinTheBoundOfItsOwnRead) {
  EXPECT_FALSE(cache_.Lookup("a", t0_).has_value()) << "nothing read yet: read through";
  cache_.Fill(cache_.generation(), "a", HeldBy("host-a"), t0_);
  cache_.Fill(cache_.generation(), "b", {}, t0_ + seconds(1));
  ASSERT_TRUE(cache_.Lookup("a", t0_ + seconds(1)).has_value());
  EXPECT_EQ(cache_.Lookup("a", t0_ + seconds(1))->front().host_id, "host-a");
  ASSERT_TRUE(cache_.Lookup("b", t0_ + seconds(1)).has_value()) << "no holder is an answer too";
  EXPECT_TRUE(cache_.Lookup("b", t0_ + seconds(1))->empty());
  EXPECT_FALSE(cache_.Lookup("a", t0_ + seconds(2)).has_value()) << "read again at its bound";
  EXPECT_TRUE(cache_.Lookup("b", t0_ + seconds(2)).has_value()) << "b was read later";
  EXPECT_FALSE(cache_.Lookup("c", t0_).has_value());
}

TEST_F(HoldersCacheTest, ALockChangeInvalidatesThatVolumeOnly) {
  cache_.Fill(cache_.generation(), "a", HeldBy("host-a"), t0_);
  cache_.Fill(cache_.generation(), "b", HeldBy("host-b"), t0_);
  cache_.Invalidate("a");
  EXPECT_FALSE(cache_.Lookup("a", t0_).has_value());
  EXPECT_TRUE(cache_.Lookup("b", t0_).has_value());
  cache_.Fill(cache_.generation(), "a", {}, t0_);
  ASSERT_TRUE(cache_.Lookup("a", t0_).has_value());
  EXPECT_TRUE(cache_.Lookup("a", t0_)->empty());
}

TEST_F(HoldersCacheTest, AReadThatRacedItsVolumesChangeIsNotKeptAnotherVolumesIs) {
  const uint64_t before = cache_.generation();
  cache_.Invalidate("a");  // a's lock changed while a and b were read
  cache_.Fill(before, "a", HeldBy("old-holder"), t0_);
  cache_.Fill(before, "b", HeldBy("host-b"), t0_);
  EXPECT_FALSE(cache_.Lookup("a", t0_).has_value()) << "a read older than the change was kept";
  EXPECT_TRUE(cache_.Lookup("b", t0_).has_value()) << "b's lock did not change: its read stands";
}

TEST_F(HoldersCacheTest, ALostWatchInvalidatesEveryEntryAndEveryReadUnderWay) {
  cache_.Fill(cache_.generation(), "a", HeldBy("host-a"), t0_);
  const uint64_t before = cache_.generation();
  cache_.InvalidateAll();
  EXPECT_FALSE(cache_.Lookup("a", t0_).has_value());
  cache_.Fill(before, "b", HeldBy("host-b"), t0_);
  EXPECT_FALSE(cache_.Lookup("b", t0_).has_value()) << "read before the watch was lost";
  cache_.Fill(cache_.generation(), "b", HeldBy("host-b"), t0_);
  EXPECT_TRUE(cache_.Lookup("b", t0_).has_value());
}

TEST_F(HoldersCacheTest, EnoughMissesWithinOneBoundAreAScan) {
  EXPECT_FALSE(cache_.NoteMiss(t0_));
  EXPECT_FALSE(cache_.NoteMiss(t0_ + milliseconds(100)));
  EXPECT_TRUE(cache_.NoteMiss(t0_ + milliseconds(200))) << "the third miss in 2 s";
  EXPECT_FALSE(cache_.NoteMiss(t0_ + milliseconds(300))) << "counting starts again";
  EXPECT_FALSE(cache_.NoteMiss(t0_ + milliseconds(400)));
  EXPECT_FALSE(cache_.NoteMiss(t0_ + seconds(3))) << "misses spread over more than the bound";
  EXPECT_FALSE(cache_.NoteMiss(t0_ + seconds(4)));
  EXPECT_TRUE(cache_.NoteMiss(t0_ + seconds(4)));
}

}  // namespace
}  // namespace berth::engine
