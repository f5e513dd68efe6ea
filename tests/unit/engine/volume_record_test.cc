#include "engine/volume_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "tests/unit/expect_error.h"

namespace berth::engine {
namespace {

using ::berth::testing::ExpectError;
using ::testing::MatchesRegex;

VolumeRecord Sample() {
  VolumeRecord record;
  record.spec.name = "db";
  record.spec.backend = "ceph";
  record.spec.size_bytes = 10 * kGiB;
  record.spec.fstype = "xfs";
  record.spec.mkfs_options = "-L db";
  record.spec.mount_options = "noatime";
  record.spec.pool = "volumes";
  record.spec.image = "db";
  record.spec.features = "layering,exclusive-lock";
  record.created_at = "2026-11-26T19:36:53Z";
  record.created_by = "node-1";
  record.formatted_at = "2026-11-26T19:37:01Z";
  record.formatted_by = "node-2";
  return record;
}

TEST(VolumeRecord, RoundTrip) {
  const VolumeRecord record = Sample();
  const std::string text = RecordToString(record);
  const VolumeRecord back = RecordFromString("db", text);
  EXPECT_EQ(SpecToJson(back.spec), SpecToJson(record.spec));
  EXPECT_EQ(back.created_at, record.created_at);
  EXPECT_EQ(back.created_by, record.created_by);
  EXPECT_EQ(back.formatted_at, record.formatted_at);
  EXPECT_EQ(back.formatted_by, record.formatted_by);
  EXPECT_TRUE(back.formatted());
  EXPECT_EQ(RecordToString(back), text);
}

TEST(VolumeRecord, StringIsVersionedJson) {
  const auto json = nlohmann::json::parse(RecordToString(Sample()));
  EXPECT_EQ(json.at("version"), 1);
  EXPECT_EQ(json.at("spec").at("name"), "db");
}

TEST(VolumeRecord, FormattedFollowsTheLedger) {
  VolumeRecord record = Sample();
  EXPECT_TRUE(record.formatted());
  record.formatted_at.clear();
  EXPECT_FALSE(record.formatted());
  const VolumeRecord back = RecordFromString("db", RecordToString(record));
  EXPECT_FALSE(back.formatted());
  EXPECT_EQ(back.formatted_at, "");
}

TEST(VolumeRecord, CorruptEntryIsInternalAndNamesTheVolume) {
  for (const std::string text :
       {"", "{", "[]", "{}", R"({"spec": {"name": "db"}})", R"({"spec": 5})"}) {
    ExpectError([&] { RecordFromString("pgdata", text); }, ErrorCode::kInternal,
                {"volume pgdata", "corrupt"});
  }
}

TEST(NowRfc3339, IsUtcWithSeconds) {
  EXPECT_THAT(NowRfc3339(), MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"));
}

}  // namespace
}  // namespace berth::engine
