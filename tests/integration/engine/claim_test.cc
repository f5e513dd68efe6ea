// Claims on the lab's Ceph (backends/rbd/claim.h): the first holder keeps a claim until it
// releases it, whoever asks after, and claimants racing for a new one all learn the same winner.
#include "backends/rbd/claim.h"

#include <gtest/gtest.h>

#include <exception>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

// Removes the test's claim object however the test ends.
struct ForgetOnExit {
  const rbd::IoCtx& io;
  std::string object;
  ~ForgetOnExit() {
    try {
      rbd::ForgetClaim(io, object);
    } catch (const std::exception&) {  // best effort: the lab is thrown away
    }
  }
};

TEST(ClaimTest, TheFirstHolderKeepsItUntilItReleasesIt) {
  LabCluster lab;
  const auto io = lab.client()->OpenPool(lab.pool());
  const std::string object = "berth.test-claim." + UniqueName("claim");
  const ForgetOnExit cleanup{io, object};
  EXPECT_EQ(rbd::ClaimHolder(io, object), std::nullopt);
  EXPECT_EQ(rbd::Claim(io, object, "volume-a"), "volume-a");
  EXPECT_EQ(rbd::Claim(io, object, "volume-b"), "volume-a");
  EXPECT_EQ(rbd::Claim(io, object, "volume-a"), "volume-a");
  // Only the holder releases it.
  rbd::ReleaseClaim(io, object, "volume-b");
  EXPECT_EQ(rbd::ClaimHolder(io, object), "volume-a");
  rbd::ReleaseClaim(io, object, "volume-a");
  EXPECT_EQ(rbd::ClaimHolder(io, object), std::nullopt);
  EXPECT_EQ(rbd::Claim(io, object, "volume-b"), "volume-b");
  rbd::ForgetClaim(io, object);
  EXPECT_EQ(rbd::ClaimHolder(io, object), std::nullopt);
}

TEST(ClaimTest, ClaimantsRacingForANewClaimAllLearnTheSameWinner) {
  LabCluster lab;
  const auto io = lab.client()->OpenPool(lab.pool());
  const std::string object = "berth.test-claim." + UniqueName("race");
  const ForgetOnExit cleanup{io, object};
  constexpr int kClaimants = 8;
  std::vector<std::string> answers(kClaimants);
  {
    std::vector<std::jthread> claimants;
    claimants.reserve(kClaimants);
    for (int i = 0; i < kClaimants; ++i) {
      claimants.emplace_back(
          [&, i] { answers[i] = rbd::Claim(io, object, "volume-" + std::to_string(i)); });
    }
  }
  const std::set<std::string> winners(answers.begin(), answers.end());
  ASSERT_EQ(winners.size(), 1u);
  EXPECT_EQ(winners.begin()->rfind("volume-", 0), 0u) << *winners.begin();
  EXPECT_EQ(rbd::ClaimHolder(io, object), *winners.begin());
}

}  // namespace
}  // namespace berth::testing
