// The registry copy's coherence rules: what is served, when it is read again, and that a read
// which raced a change never puts the old state back.
#include "engine/registry_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace berth::engine {
namespace {

using std::chrono::seconds;

VolumeRecord Record(const std::string& name, const std::string& stored) {
  VolumeRecord record;
  record.spec.name = name;
  record.stored = stored;
  return record;
}

class RegistryCacheTest : public ::testing::Test {
 protected:
  RegistryCache cache_{seconds(2)};
  const RegistryCache::Clock::time_point t0_ = RegistryCache::Clock::now();
};

TEST_F(RegistryCacheTest, EmptyUntilFilledThenServesWithinTheBound) {
  EXPECT_EQ(cache_.List(t0_), nullptr) << "nothing read yet: read through";
  EXPECT_FALSE(cache_.Fresh(t0_));
  EXPECT_FALSE(cache_.Lookup("a", t0_).has_value());
  cache_.Fill(cache_.generation(), {Record("a", "1"), Record("b", "1")}, t0_);
  ASSERT_NE(cache_.List(t0_ + seconds(1)), nullptr);
  EXPECT_EQ(cache_.List(t0_ + seconds(1))->size(), 2u);
  ASSERT_TRUE(cache_.Lookup("b", t0_ + seconds(1)).has_value());
  EXPECT_EQ(cache_.Lookup("b", t0_ + seconds(1))->stored, "1");
  EXPECT_FALSE(cache_.Lookup("c", t0_).has_value()) << "a name it lacks is read through";
  EXPECT_TRUE(cache_.Fresh(t0_ + seconds(1)));
  EXPECT_FALSE(cache_.Fresh(t0_ + seconds(2)));
  EXPECT_EQ(cache_.List(t0_ + seconds(2)), nullptr) << "a copy at its bound is read again";
  EXPECT_FALSE(cache_.Lookup("a", t0_ + seconds(3)).has_value());
}

TEST_F(RegistryCacheTest, AnotherWritersChangeInvalidatesItUntilTheNextFill) {
  cache_.Fill(cache_.generation(), {Record("a", "1")}, t0_);
  cache_.Invalidate();
  EXPECT_FALSE(cache_.Fresh(t0_));
  EXPECT_EQ(cache_.List(t0_), nullptr);
  EXPECT_FALSE(cache_.Lookup("a", t0_).has_value());
  cache_.Fill(cache_.generation(), {Record("a", "2")}, t0_);
  EXPECT_EQ(cache_.Lookup("a", t0_)->stored, "2");
}

TEST_F(RegistryCacheTest, AReadThatRacedAChangeIsNotKept) {
  const uint64_t before_invalidation = cache_.generation();
  cache_.Invalidate();  // a notify arrived while the read was under way
  cache_.Fill(before_invalidation, {Record("a", "old")}, t0_);
  EXPECT_EQ(cache_.List(t0_), nullptr) << "a read older than the change was kept";

  const uint64_t before_write = cache_.generation();
  cache_.Put(Record("a", "new"));  // this process's own write, while invalid
  cache_.Fill(before_write, {Record("a", "old")}, t0_);
  EXPECT_EQ(cache_.List(t0_), nullptr) << "a read older than our own write was kept";

  const uint64_t before_erase = cache_.generation();
  cache_.Erase("a");
  cache_.Fill(before_erase, {Record("a", "old")}, t0_);
  EXPECT_EQ(cache_.List(t0_), nullptr);
}

TEST_F(RegistryCacheTest, OwnWritesShowAtOnceInAValidCopy) {
  cache_.Fill(cache_.generation(), {Record("a", "1"), Record("b", "1")}, t0_);
  const auto before = cache_.List(t0_);
  ASSERT_NE(before, nullptr);
  cache_.Put(Record("c", "1"));
  cache_.Put(Record("a", "2"));
  cache_.Erase("b");
  const auto records = cache_.List(t0_);
  ASSERT_NE(records, nullptr) << "own writes keep the copy valid";
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ(records->front().stored, "2");
  // A List handed out earlier is a snapshot: a reply being written is never changed under it.
  ASSERT_EQ(before->size(), 2u);
  EXPECT_EQ(before->front().stored, "1");
  EXPECT_EQ(before->back().spec.name, "b");
  EXPECT_EQ(cache_.Lookup("a", t0_)->stored, "2");
  EXPECT_EQ(cache_.Lookup("c", t0_)->stored, "1");
  EXPECT_FALSE(cache_.Lookup("b", t0_).has_value());
}

}  // namespace
}  // namespace berth::engine
