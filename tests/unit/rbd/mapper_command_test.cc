#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "backends/rbd/image.h"
#include "backends/rbd/lock.h"
#include "backends/rbd/mappers/fuse.h"
#include "backends/rbd/mappers/krbd.h"
#include "backends/rbd/mappers/mapper.h"
#include "backends/rbd/mappers/nbd.h"
#include "common/error.h"
#include "tests/unit/expect_error.h"

namespace berth::rbd {
namespace {

using ::berth::testing::ExpectError;
using ::testing::ElementsAre;

using ::berth::testing::kInvalid;

MapRequest Request(bool read_only, const std::string& keyring = "") {
  MapRequest request;
  request.conf_file = "/lab/ceph.conf";
  request.user = "berth";
  request.keyring = keyring;
  request.pool = "volumes";
  request.image = "db";
  request.read_only = read_only;
  request.work_dir = "/var/lib/berth/work/db";
  return request;
}

// noshare: each mapping has a kernel client of its own, so a fence of one volume's client never
// cuts off the host's other krbd volumes.
TEST(KrbdMapper, ReadWriteMapIsExclusiveUnsharedAndWithoutUdev) {
  EXPECT_THAT(KrbdMapper().MapCommand(Request(false)),
              ElementsAre("rbd", "device", "map", "-t", "krbd", "-o", "noudev,noshare,exclusive",
                          "--id", "berth", "-c", "/lab/ceph.conf", "volumes/db"));
}

TEST(KrbdMapper, KeyringIsPassedWhenSet) {
  EXPECT_THAT(
      KrbdMapper().MapCommand(Request(false, "/lab/keyring")),
      ElementsAre("rbd", "device", "map", "-t", "krbd", "-o", "noudev,noshare,exclusive", "--id",
                  "berth", "-c", "/lab/ceph.conf", "--keyring", "/lab/keyring", "volumes/db"));
}

TEST(KrbdMapper, ReadOnlyMapIsUnsharedNotExclusive) {
  EXPECT_THAT(KrbdMapper().MapCommand(Request(true)),
              ElementsAre("rbd", "device", "map", "-t", "krbd", "-o", "noudev,noshare",
                          "--read-only", "--id", "berth", "-c", "/lab/ceph.conf", "volumes/db"));
}

TEST(KrbdMapper, Unmap) {
  EXPECT_THAT(KrbdMapper().UnmapCommand("/dev/rbd3"),
              ElementsAre("rbd", "device", "unmap", "-t", "krbd", "-o", "noudev", "/dev/rbd3"));
}

TEST(NbdMapper, ReadWriteMapIsExclusive) {
  EXPECT_THAT(NbdMapper().MapCommand(Request(false, "/lab/keyring")),
              ElementsAre("rbd-nbd", "map", "--try-netlink", "--reattach-timeout", "300",
                          "--exclusive", "--id", "berth", "-c", "/lab/ceph.conf", "--keyring",
                          "/lab/keyring", "volumes/db"));
}

TEST(NbdMapper, ReadOnlyMap) {
  EXPECT_THAT(NbdMapper().MapCommand(Request(true)),
              ElementsAre("rbd-nbd", "map", "--try-netlink", "--reattach-timeout", "300",
                          "--read-only", "--id", "berth", "-c", "/lab/ceph.conf", "volumes/db"));
}

TEST(NbdMapper, Unmap) {
  EXPECT_THAT(NbdMapper().UnmapCommand("/dev/nbd0"), ElementsAre("rbd-nbd", "unmap", "/dev/nbd0"));
}

TEST(FuseMapper, FuseCommandExposesOnlyTheImageInTheForeground) {
  EXPECT_THAT(FuseMapper::FuseCommand(Request(false), "/var/lib/berth/work/db/fuse"),
              ElementsAre("rbd-fuse", "--id", "berth", "-c", "/lab/ceph.conf", "-p", "volumes",
                          "-r", "db", "/var/lib/berth/work/db/fuse", "-f"));
  EXPECT_THAT(FuseMapper::FuseCommand(Request(true, "/lab/keyring"), "/w/fuse"),
              ElementsAre("rbd-fuse", "--id", "berth", "-c", "/lab/ceph.conf", "--keyring",
                          "/lab/keyring", "-p", "volumes", "-r", "db", "/w/fuse", "-f"));
}

TEST(MakeMapper, NamedMappers) {
  EXPECT_EQ(MakeMapper("krbd")->name(), "krbd");
  EXPECT_EQ(MakeMapper("nbd")->name(), "nbd");
  EXPECT_EQ(MakeMapper("fuse")->name(), "fuse");
}

TEST(MakeMapper, UnknownNameIsInvalid) {
  ExpectError([] { MakeMapper("bogus"); }, kInvalid, {"'bogus'", "krbd", "nbd", "fuse"});
  ExpectError([] { MakeMapper(""); }, kInvalid, {"''"});
  ExpectError([] { MakeMapper("KRBD"); }, kInvalid, {"'KRBD'"});
}

// ---------------------------------------------------------------------------------------------
// Image features and object sizes

TEST(ParseFeatures, DefaultIsLayeringAndExclusiveLock) {
  EXPECT_EQ(ParseFeatures(kDefaultFeatures), RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK);
}

TEST(ParseFeatures, KnownFeatureSets) {
  EXPECT_EQ(ParseFeatures("layering"), RBD_FEATURE_LAYERING);
  EXPECT_EQ(ParseFeatures("layering,exclusive-lock,object-map,fast-diff"),
            RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP |
                RBD_FEATURE_FAST_DIFF);
  EXPECT_EQ(ParseFeatures("exclusive-lock,journaling"),
            RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_JOURNALING);
}

TEST(ParseFeatures, UnknownFeatureIsNamed) {
  ExpectError([] { ParseFeatures("layering,bogus"); }, kInvalid,
              {"'bogus'", "layering", "exclusive-lock"});
  ExpectError([] { ParseFeatures("layering,,exclusive-lock"); }, kInvalid, {"''"});
  ExpectError([] { ParseFeatures("Layering"); }, kInvalid, {"'Layering'"});
}

TEST(ParseFeatures, DependenciesAreEnforced) {
  ExpectError([] { ParseFeatures("layering,object-map"); }, kInvalid,
              {"object-map", "exclusive-lock"});
  ExpectError([] { ParseFeatures("exclusive-lock,fast-diff"); }, kInvalid,
              {"fast-diff", "object-map"});
  ExpectError([] { ParseFeatures("journaling"); }, kInvalid, {"journaling", "exclusive-lock"});
}

TEST(ObjectSizeOrder, PowersOfTwoFrom4KTo32M) {
  EXPECT_EQ(ObjectSizeOrder(4096), 12);
  EXPECT_EQ(ObjectSizeOrder(4ULL << 20), 22);
  EXPECT_EQ(ObjectSizeOrder(32ULL << 20), 25);
}

TEST(ObjectSizeOrder, OthersAreRefused) {
  ExpectError([] { ObjectSizeOrder(3ULL << 20); }, kInvalid,
              {std::to_string(3ULL << 20), "power of two"});
  ExpectError([] { ObjectSizeOrder(64ULL << 20); }, kInvalid, {std::to_string(64ULL << 20)});
  ExpectError([] { ObjectSizeOrder(2048); }, kInvalid, {"2048"});
  ExpectError([] { ObjectSizeOrder(0); }, kInvalid, {"object size 0"});
}

// ---------------------------------------------------------------------------------------------
// Lock cookies

TEST(LockCookie, RoundTrips) {
  const LockOwner owner{"node-1", "0123456789abcdef0123456789abcdef", "db"};
  EXPECT_EQ(LockCookie(owner),
            "berth host=node-1 instance=0123456789abcdef0123456789abcdef volume=db");
  const auto back = OwnerFromCookie(LockCookie(owner));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->host_id, "node-1");
  EXPECT_EQ(back->instance_id, owner.instance_id);
  EXPECT_EQ(back->volume, "db");
}

TEST(LockCookie, CookiesOfOlderBerthsHaveAHostAndNoInstance) {
  const auto back = OwnerFromCookie("berth host=0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->host_id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(back->instance_id, "");
  EXPECT_EQ(back->volume, "");
}

TEST(LockCookie, ForeignCookiesHaveNoOwner) {
  EXPECT_EQ(OwnerFromCookie("auto 139771345168128"), std::nullopt);
  EXPECT_EQ(OwnerFromCookie(""), std::nullopt);
  EXPECT_EQ(OwnerFromCookie("berth"), std::nullopt);
  EXPECT_EQ(OwnerFromCookie("xberth host=node-1"), std::nullopt);
}

TEST(LockCookie, OnlyTheSameAttachmentOwnsALock) {
  const LockOwner me{"node-1", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "db"};
  const auto holder = [](const std::string& cookie) {
    const auto owner = OwnerFromCookie(cookie).value_or(LockOwner{});
    return LockHolder{"client.1",        cookie,      "127.0.0.1:0/1", owner.host_id,
                      owner.instance_id, owner.volume};
  };
  EXPECT_TRUE(IsOwnLock(holder(LockCookie(me)), me));
  EXPECT_TRUE(IsOwnLock(holder("berth host=node-1"), me)) << "an older berth's lock, on upgrade";
  EXPECT_FALSE(
      IsOwnLock(holder(LockCookie({"node-1", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "db"})), me))
      << "a twin installation with the same host id";
  EXPECT_FALSE(IsOwnLock(holder(LockCookie({"node-1", me.instance_id, "alias"})), me))
      << "another volume of this installation on the same image";
  EXPECT_FALSE(IsOwnLock(holder(LockCookie({"node-2", me.instance_id, "db"})), me));
  EXPECT_FALSE(IsOwnLock(holder("auto 1"), me)) << "a foreign lock";
}

}  // namespace
}  // namespace berth::rbd
