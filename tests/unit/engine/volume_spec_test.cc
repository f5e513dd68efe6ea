#include "engine/volume_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "backends/rbd/image.h"
#include "common/error.h"
#include "tests/unit/expect_error.h"

namespace berth::engine {
namespace {

using ::berth::testing::ExpectError;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using ::berth::testing::kInvalid;

// ---------------------------------------------------------------------------------------------
// ValidateVolumeName

TEST(ValidateVolumeName, AcceptsDockerStyleNames) {
  for (const std::string name : {"db", "A", "1abc", "my-vol_1.data", "postgres-13.2", "x_y-z"}) {
    EXPECT_NO_THROW(ValidateVolumeName(name)) << name;
  }
}

TEST(ValidateVolumeName, RefusesEmpty) {
  ExpectError([] { ValidateVolumeName(""); }, kInvalid, {"empty"});
}

TEST(ValidateVolumeName, RefusesSlash) {
  ExpectError([] { ValidateVolumeName("a/b"); }, kInvalid, {"'a/b'", "'/'"});
  ExpectError([] { ValidateVolumeName("db/../etc"); }, kInvalid, {"db/../etc"});
}

TEST(ValidateVolumeName, RefusesDotDot) {
  ExpectError([] { ValidateVolumeName("a..b"); }, kInvalid, {"'a..b'", "'..'"});
  ExpectError([] { ValidateVolumeName("a.."); }, kInvalid, {"'a..'", "'..'"});
}

TEST(ValidateVolumeName, LengthLimitIs128) {
  EXPECT_NO_THROW(ValidateVolumeName(std::string(128, 'a')));
  ExpectError([] { ValidateVolumeName(std::string(129, 'a')); }, kInvalid,
              {"129 characters", "1-128"});
}

TEST(ValidateVolumeName, MustStartWithLetterOrDigit) {
  ExpectError([] { ValidateVolumeName("-rf"); }, kInvalid,
              {"'-rf'", "must start with a letter or digit"});
  ExpectError([] { ValidateVolumeName(".hidden"); }, kInvalid,
              {"'.hidden'", "must start with a letter or digit"});
  ExpectError([] { ValidateVolumeName("_x"); }, kInvalid, {"'_x'"});
  ExpectError([] { ValidateVolumeName("."); }, kInvalid, {"'.'"});
  ExpectError([] { ValidateVolumeName(".."); }, kInvalid, {"'..'"});
}

TEST(ValidateVolumeName, RefusesNonAsciiAndOtherCharacters) {
  ExpectError([] { ValidateVolumeName("donn\u00e9es"); }, kInvalid, {"'donn\u00e9es'"});
  ExpectError([] { ValidateVolumeName("\u00e9t\u00e9"); }, kInvalid, {"'\u00e9t\u00e9'"});
  ExpectError([] { ValidateVolumeName("a b"); }, kInvalid, {"'a b'", "' '"});
  ExpectError([] { ValidateVolumeName("a:b"); }, kInvalid, {"':'"});
  ExpectError([] { ValidateVolumeName(std::string("a\0b", 3)); }, kInvalid, {"'a"});
}

TEST(ValidateVolumeName, MessagesStayValidUtf8) {
  // Front doors put messages in JSON; a lone byte of a UTF-8 sequence would make dump() throw.
  try {
    ValidateVolumeName("donn\u00e9es");
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_NO_THROW((void)nlohmann::json(e.what()).dump()) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("non-ASCII"));
  }
}

// ---------------------------------------------------------------------------------------------
// ParseSize

TEST(ParseSize, BinaryUnits) {
  EXPECT_EQ(ParseSize("512M"), 512 * kMiB);
  EXPECT_EQ(ParseSize("512MiB"), 512 * kMiB);
  EXPECT_EQ(ParseSize("512Mi"), 512 * kMiB);
  EXPECT_EQ(ParseSize("1g"), kGiB);
  EXPECT_EQ(ParseSize("1G"), kGiB);
  EXPECT_EQ(ParseSize("1gib"), kGiB);
  EXPECT_EQ(ParseSize("4K"), 4096u);
  EXPECT_EQ(ParseSize("4096B"), 4096u);
  EXPECT_EQ(ParseSize("2T"), 2ULL << 40);
  EXPECT_EQ(ParseSize(" 10G "), 10 * kGiB);
}

TEST(ParseSize, FractionsAreExact) {
  EXPECT_EQ(ParseSize("1.5G"), kGiB + kGiB / 2);
  EXPECT_EQ(ParseSize("0.5K"), 512u);
  EXPECT_EQ(ParseSize("1.25T"), (1ULL << 40) + (1ULL << 38));
}

TEST(ParseSize, BareNumberIsMiB) {
  EXPECT_EQ(ParseSize("100"), 100 * kMiB);
  EXPECT_EQ(ParseSize("1"), kMiB);
}

TEST(ParseSize, OnePebibyteIsTheLimit) {
  EXPECT_EQ(ParseSize("1P"), kMaxVolumeBytes);
  EXPECT_EQ(ParseSize("1024T"), kMaxVolumeBytes);
  ExpectError([] { ParseSize("2P"); }, kInvalid, {"'2P'", "over 1 PiB"});
  ExpectError([] { ParseSize("1025T"); }, kInvalid, {"'1025T'", "over 1 PiB"});
  ExpectError([] { ParseSize("1.0000001P"); }, kInvalid, {"over 1 PiB"});
}

TEST(ParseSize, HugeNumbersAreRefusedAsTooBig) {
  // More digits than a long double can hold must still be a berth::Error, not
  // std::out_of_range from the conversion.
  const std::string huge = "1" + std::string(6000, '0');
  ExpectError([&] { ParseSize(huge); }, kInvalid, {"over 1 PiB"});
  ExpectError([&] { ParseSize(huge + "G"); }, kInvalid, {"over 1 PiB"});
  ExpectError([] { ParseSize("0." + std::string(6000, '0') + "1G"); }, kInvalid, {"zero"});
  EXPECT_EQ(ParseSize(std::string(40, '0') + "1G"), kGiB);
}

TEST(ParseSize, RefusesZero) {
  ExpectError([] { ParseSize("0"); }, kInvalid, {"'0'", "zero"});
  ExpectError([] { ParseSize("0G"); }, kInvalid, {"'0G'", "zero"});
  ExpectError([] { ParseSize("0.1B"); }, kInvalid, {"'0.1B'"});
}

TEST(ParseSize, RefusesNegative) {
  ExpectError([] { ParseSize("-1"); }, kInvalid, {"'-1'", "negative"});
  ExpectError([] { ParseSize("-1G"); }, kInvalid, {"'-1G'", "negative"});
}

TEST(ParseSize, RefusesMalformedNumbers) {
  for (const std::string text : {"abc", "", "G", "1.", ".5G", "1..5G", "1.2.3G", "+1G", "0x10"}) {
    ExpectError([&] { ParseSize(text); }, kInvalid, {"'" + text + "'"});
  }
  ExpectError([] { ParseSize("abc"); }, kInvalid, {"not a number"});
  ExpectError([] { ParseSize("1."); }, kInvalid, {"not a number"});
  ExpectError([] { ParseSize(".5G"); }, kInvalid, {"not a number"});
}

TEST(ParseSize, RefusesUnknownUnits) {
  for (const std::string text :
       {"10X", "10GG", "1 G", "5E", "1e3", "10KiBB", "1BB", "1BiB", "1Bi", "1Gx"}) {
    ExpectError([&] { ParseSize(text); }, kInvalid, {"'" + text + "'"});
  }
  ExpectError([] { ParseSize("10X"); }, kInvalid, {"'10X'", "unknown unit"});
}

TEST(FormatSize, PicksTheLargestUnit) {
  EXPECT_EQ(FormatSize(0), "0 B");
  EXPECT_EQ(FormatSize(1023), "1023 B");
  EXPECT_EQ(FormatSize(4096), "4 KiB");
  EXPECT_EQ(FormatSize(512 * kMiB), "512 MiB");
  EXPECT_EQ(FormatSize(kGiB), "1 GiB");
  EXPECT_EQ(FormatSize(kGiB + kGiB / 2), "1.50 GiB");
  EXPECT_EQ(FormatSize(kMaxVolumeBytes), "1 PiB");
}

// ---------------------------------------------------------------------------------------------
// ParseVolumeSpec

Config TestConfig() {
  Config config;
  config.host_id = "node-1";
  config.default_backend = "ceph";
  config.backends["ceph"] = {"ceph", "rbd", {{"type", "rbd"}, {"pool", "volumes"}}};
  config.backends["files"] = {"files", "nfs", {{"type", "nfs"}}};
  return config;
}

TEST(ParseVolumeSpec, DefaultsForAnRbdVolume) {
  const VolumeSpec spec = ParseVolumeSpec("db", {}, TestConfig());
  EXPECT_EQ(spec.name, "db");
  EXPECT_EQ(spec.backend, "ceph");
  EXPECT_EQ(spec.size_bytes, kDefaultVolumeBytes);
  EXPECT_EQ(spec.fstype, "ext4");
  EXPECT_EQ(spec.mkfs_options, "");
  EXPECT_EQ(spec.mount_options, "");
  EXPECT_FALSE(spec.read_only);
  EXPECT_EQ(spec.pool, "volumes");
  EXPECT_EQ(spec.image, "db");
  EXPECT_FALSE(spec.adopted);
  EXPECT_EQ(spec.features, rbd::kDefaultFeatures);
  EXPECT_EQ(spec.object_size, 4 * kMiB);
}

TEST(ParseVolumeSpec, DefaultsComeFromTheBackendSettings) {
  Config config = TestConfig();
  config.backends["ceph"].settings = {{"type", "rbd"},
                                      {"pool", "fast"},
                                      {"default_size", "20G"},
                                      {"default_fstype", "xfs"},
                                      {"features", "layering"}};
  const VolumeSpec spec = ParseVolumeSpec("db", {}, config);
  EXPECT_EQ(spec.size_bytes, 20 * kGiB);
  EXPECT_EQ(spec.fstype, "xfs");
  EXPECT_EQ(spec.pool, "fast");
  EXPECT_EQ(spec.features, "layering");

  // Options override every default.
  const VolumeSpec overridden = ParseVolumeSpec(
      "db",
      {{"size", "1G"}, {"fstype", "ext4"}, {"pool", "slow"}, {"features", rbd::kDefaultFeatures}},
      config);
  EXPECT_EQ(overridden.size_bytes, kGiB);
  EXPECT_EQ(overridden.fstype, "ext4");
  EXPECT_EQ(overridden.pool, "slow");
  EXPECT_EQ(overridden.features, rbd::kDefaultFeatures);
}

TEST(ParseVolumeSpec, PoolDefaultsToRbdWhenTheBackendNamesNone) {
  Config config = TestConfig();
  config.backends["ceph"].settings = {{"type", "rbd"}};
  EXPECT_EQ(ParseVolumeSpec("db", {}, config).pool, "rbd");
}

TEST(ParseVolumeSpec, BadDefaultSizeInTheConfigIsRefused) {
  Config config = TestConfig();
  config.backends["ceph"].settings["default_size"] = "lots";
  ExpectError([&] { ParseVolumeSpec("db", {}, config); }, kInvalid, {"'lots'"});
}

TEST(ParseVolumeSpec, ValidatesTheName) {
  ExpectError([] { ParseVolumeSpec("../etc", {}, TestConfig()); }, kInvalid, {"'../etc'"});
}

TEST(ParseVolumeSpec, UnknownOptionIsNamed) {
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"sise", "1G"}}, TestConfig());
      },
      kInvalid, {"unknown option 'sise'", "size"});
}

TEST(ParseVolumeSpec, UnknownBackendIsNamed) {
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"backend", "ceph2"}}, TestConfig());
      },
      kInvalid, {"unknown backend 'ceph2'", "ceph", "files"});
}

TEST(ParseVolumeSpec, BackendOptionChoosesTheBackend) {
  EXPECT_EQ(ParseVolumeSpec("db", {{"backend", "files"}}, TestConfig()).backend, "files");
}

TEST(ParseVolumeSpec, UnsupportedFstypeIsRefused) {
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"fstype", "btrfs"}}, TestConfig());
      },
      kInvalid, {"'btrfs'"});
}

TEST(ParseVolumeSpec, XfsNeedsAtLeast300M) {
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"fstype", "xfs"}, {"size", "100M"}}, TestConfig());
      },
      kInvalid, {"xfs", "300M", "100 MiB"});
  EXPECT_EQ(ParseVolumeSpec("db", {{"fstype", "xfs"}, {"size", "300M"}}, TestConfig()).size_bytes,
            300 * kMiB);
  // ext4 has no such floor.
  EXPECT_EQ(ParseVolumeSpec("db", {{"fstype", "ext4"}, {"size", "16M"}}, TestConfig()).size_bytes,
            16 * kMiB);
}

TEST(ParseVolumeSpec, SizeErrorsNameTheSize) {
  ExpectError([] { ParseVolumeSpec("db", {{"size", "10X"}}, TestConfig()); }, kInvalid, {"'10X'"});
}

TEST(ParseVolumeSpec, MkfsForceFlagsAreRefused) {
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"mkfs_options", "-L data -F"}}, TestConfig());
      },
      kInvalid, {"-F"});
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"fstype", "xfs"}, {"size", "1G"}, {"mkfs_options", "-f"}},
                        TestConfig());
      },
      kInvalid, {"-f"});
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"mkfs_options", "--force"}}, TestConfig());
      },
      kInvalid, {"--force"});
}

TEST(ParseVolumeSpec, MkfsOptionsAreKeptAsWritten) {
  const VolumeSpec spec = ParseVolumeSpec("db", {{"mkfs_options", "-L data  -m 0"}}, TestConfig());
  EXPECT_EQ(spec.mkfs_options, "-L data  -m 0");
}

TEST(ParseVolumeSpec, BadMountOptionsAreRefused) {
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"mount_options", "noatime,bind"}}, TestConfig());
      },
      kInvalid, {"'bind'"});
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"mount_options", "noatime,,ro"}}, TestConfig());
      },
      kInvalid, {"empty"});
  EXPECT_EQ(
      ParseVolumeSpec("db", {{"mount_options", "noatime,discard"}}, TestConfig()).mount_options,
      "noatime,discard");
}

TEST(ParseVolumeSpec, ReadOnlyParsing) {
  for (const std::string yes : {"true", "1", "yes"}) {
    EXPECT_TRUE(ParseVolumeSpec("db", {{"read_only", yes}}, TestConfig()).read_only) << yes;
  }
  for (const std::string no : {"false", "0", "no", ""}) {
    EXPECT_FALSE(ParseVolumeSpec("db", {{"read_only", no}}, TestConfig()).read_only) << no;
  }
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"read_only", "maybe"}}, TestConfig());
      },
      kInvalid, {"read_only", "'maybe'"});
}

TEST(ParseVolumeSpec, RbdOnlyOptionsAreRefusedOnOtherBackends) {
  for (const std::string key : {"pool", "image", "features", "object_size"}) {
    ExpectError(
        [&] {
          ParseVolumeSpec("db", {{"backend", "files"}, {key, "x"}}, TestConfig());
        },
        kInvalid, {"'" + key + "'", "rbd"});
  }
  const VolumeSpec nfs = ParseVolumeSpec("db", {{"backend", "files"}}, TestConfig());
  EXPECT_EQ(nfs.pool, "");
  EXPECT_EQ(nfs.image, "");
}

TEST(ParseVolumeSpec, ImageOptionAdoptsAnExistingImage) {
  const VolumeSpec spec = ParseVolumeSpec("db", {{"image", "legacy-db"}}, TestConfig());
  EXPECT_EQ(spec.image, "legacy-db");
  EXPECT_TRUE(spec.adopted);
}

TEST(ParseVolumeSpec, PoolAndImageNamesAreValidated) {
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"pool", "a/b"}}, TestConfig());
      },
      kInvalid, {"pool", "'a/b'"});
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"image", "x y"}}, TestConfig());
      },
      kInvalid, {"image", "'x y'"});
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"image", "-x"}}, TestConfig());
      },
      kInvalid, {"image", "'-x'"});
  ExpectError([] { ParseVolumeSpec("db", {{"pool", ""}}, TestConfig()); }, kInvalid, {"pool"});
}

TEST(ParseVolumeSpec, FeaturesAreValidated) {
  EXPECT_EQ(ParseVolumeSpec("db", {{"features", "layering,exclusive-lock,object-map,fast-diff"}},
                            TestConfig())
                .features,
            "layering,exclusive-lock,object-map,fast-diff");
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"features", "layering,bogus"}}, TestConfig());
      },
      kInvalid, {"'bogus'"});
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"features", "layering,object-map"}}, TestConfig());
      },
      kInvalid, {"object-map", "exclusive-lock"});
}

TEST(ParseVolumeSpec, ObjectSizeUsesSizeUnitsAndMustBeAPowerOfTwo) {
  EXPECT_EQ(ParseVolumeSpec("db", {{"object_size", "4K"}}, TestConfig()).object_size, 4096u);
  EXPECT_EQ(ParseVolumeSpec("db", {{"object_size", "8M"}}, TestConfig()).object_size, 8 * kMiB);
  EXPECT_EQ(ParseVolumeSpec("db", {{"object_size", "16"}}, TestConfig()).object_size, 16 * kMiB);
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"object_size", "3M"}}, TestConfig());
      },
      kInvalid, {"object size", "power of two"});
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"object_size", "64M"}}, TestConfig());
      },
      kInvalid, {"object size"});
}

TEST(ParseVolumeSpec, SubdirsAreKeptInOneSpelling) {
  // Every spelling of one directory is the same subdir, so overlaps between volumes compare.
  for (const std::string spelling : {"team/db", "./team/db", "team//db", "team/db/", "team/./db"}) {
    SCOPED_TRACE(spelling);
    EXPECT_EQ(
        ParseVolumeSpec("db", {{"backend", "files"}, {"subdir", spelling}}, TestConfig()).subdir,
        "team/db");
  }
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"backend", "files"}, {"subdir", "./"}}, TestConfig());
      },
      kInvalid, {"names the export itself"});
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"backend", "files"}, {"subdir", "a/../b"}}, TestConfig());
      },
      kInvalid, {"escapes", "'..'"});
  ExpectError(
      [] {
        ParseVolumeSpec("db", {{"backend", "files"}, {"subdir", "x/.BERTH"}}, TestConfig());
      },
      kInvalid, {"reserved"});
}

TEST(ParseVolumeSpec, OptionsBerthSetsCannotBeOverridden) {
  // On NFS, berth sets the address, ports, version and timeout from the backend's settings.
  for (const std::string option : {"addr=10.0.0.9", "port=2050", "vers=4", "nfsvers=4", "proto=udp",
                                   "mountport=1", "timeo=1"}) {
    SCOPED_TRACE(option);
    ExpectError(
        [&] {
          ParseVolumeSpec("db", {{"backend", "files"}, {"mount_options", "noatime," + option}},
                          TestConfig());
        },
        kInvalid, {option, "set by berth", "cannot be overridden"});
  }
  // nosuid unless suid=true, and nodev always, on every backend.
  for (const std::string backend : {"ceph", "files"}) {
    ExpectError(
        [&] {
          ParseVolumeSpec("db", {{"backend", backend}, {"mount_options", "suid"}}, TestConfig());
        },
        kInvalid, {"'suid'", "suid=true"});
    ExpectError(
        [&] {
          ParseVolumeSpec("db", {{"backend", backend}, {"mount_options", "dev"}}, TestConfig());
        },
        kInvalid, {"'dev'", "nodev"});
  }
  EXPECT_FALSE(ParseVolumeSpec("db", {}, TestConfig()).suid);
  EXPECT_TRUE(ParseVolumeSpec("db", {{"suid", "true"}}, TestConfig()).suid);
  // rw is allowed: read_only still wins, berth's own ro comes last.
  EXPECT_EQ(
      ParseVolumeSpec("db", {{"backend", "files"}, {"mount_options", "rw,noatime"}}, TestConfig())
          .mount_options,
      "rw,noatime");
}

// ---------------------------------------------------------------------------------------------
// SpecDifferences

TEST(SpecDifferences, SameOptionsHaveNone) {
  const Options options = {{"size", "2G"}, {"fstype", "xfs"}, {"mount_options", "noatime"}};
  const VolumeSpec existing = ParseVolumeSpec("db", options, TestConfig());
  const VolumeSpec requested = ParseVolumeSpec("db", options, TestConfig());
  EXPECT_THAT(SpecDifferences(existing, options, requested), IsEmpty());
  // The same size written another way is the same size.
  const Options other_spelling = {{"size", "2048M"}};
  EXPECT_THAT(SpecDifferences(existing, other_spelling,
                              ParseVolumeSpec("db", other_spelling, TestConfig())),
              IsEmpty());
}

TEST(SpecDifferences, SizeDifferenceNamesBothValues) {
  const VolumeSpec existing = ParseVolumeSpec("db", {{"size", "1G"}}, TestConfig());
  const Options options = {{"size", "2G"}};
  const VolumeSpec requested = ParseVolumeSpec("db", options, TestConfig());
  EXPECT_THAT(SpecDifferences(existing, options, requested),
              ElementsAre("size is 1 GiB, not 2 GiB"));
}

TEST(SpecDifferences, SmallSizeDifferencesAreStillDifferences) {
  // 1025M and 1026M both print as "1.00 GiB"; they are still different sizes.
  const VolumeSpec existing = ParseVolumeSpec("db", {{"size", "1025M"}}, TestConfig());
  const Options options = {{"size", "1026M"}};
  const VolumeSpec requested = ParseVolumeSpec("db", options, TestConfig());
  const auto diffs = SpecDifferences(existing, options, requested);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_THAT(diffs[0], HasSubstr("size is"));
  EXPECT_THAT(diffs[0], HasSubstr(std::to_string(1025 * kMiB)));
  EXPECT_THAT(diffs[0], HasSubstr(std::to_string(1026 * kMiB)));
}

TEST(SpecDifferences, OptionsNotGivenAreNotDifferences) {
  const VolumeSpec existing = ParseVolumeSpec(
      "db", {{"size", "5G"}, {"fstype", "xfs"}, {"mkfs_options", "-L db"}}, TestConfig());
  const Options options = {{"read_only", "false"}};
  const VolumeSpec requested = ParseVolumeSpec("db", options, TestConfig());
  ASSERT_NE(existing.size_bytes, requested.size_bytes);
  ASSERT_NE(existing.fstype, requested.fstype);
  EXPECT_THAT(SpecDifferences(existing, options, requested), IsEmpty());
}

TEST(SpecDifferences, EveryGivenDifferenceIsListed) {
  const VolumeSpec existing = ParseVolumeSpec("db", {}, TestConfig());
  const Options options = {
      {"fstype", "xfs"},   {"mount_options", "noatime"}, {"read_only", "true"}, {"pool", "other"},
      {"image", "legacy"}, {"features", "layering"},     {"object_size", "8M"}};
  const VolumeSpec requested = ParseVolumeSpec("db", options, TestConfig());
  EXPECT_THAT(
      SpecDifferences(existing, options, requested),
      ElementsAre("fstype is ext4, not xfs", "mount_options is unset, not noatime",
                  "read_only is false, not true", "pool is volumes, not other",
                  "image is db, not legacy", "features is layering,exclusive-lock, not layering",
                  "object_size is 4 MiB, not 8 MiB"));
}

TEST(SpecDifferences, NfsOptionsAreComparedToo) {
  // A repeated Create with on_remove=retain against a `delete` volume must not "succeed": a
  // later rm would delete what the user thinks is retained.
  const Options created = {{"backend", "files"}, {"subdir", "team/db"}, {"uid", "999"},
                           {"gid", "999"},       {"mode", "0750"},      {"on_remove", "delete"}};
  const VolumeSpec existing = ParseVolumeSpec("db", created, TestConfig());
  EXPECT_THAT(SpecDifferences(existing, created, ParseVolumeSpec("db", created, TestConfig())),
              IsEmpty());
  const Options options = {{"backend", "files"}, {"subdir", "team/other"}, {"uid", "0"},
                           {"gid", "100"},       {"mode", "2775"},         {"on_remove", "retain"}};
  const VolumeSpec requested = ParseVolumeSpec("db", options, TestConfig());
  EXPECT_THAT(
      SpecDifferences(existing, options, requested),
      ElementsAre("subdir is team/db, not team/other", "uid is 999, not 0", "gid is 999, not 100",
                  "mode is 0750, not 2775", "on_remove is delete, not retain"));
}

// ---------------------------------------------------------------------------------------------
// SpecToJson / SpecFromJson

TEST(SpecJson, RoundTripKeepsEveryField) {
  VolumeSpec spec;
  spec.name = "db";
  spec.backend = "ceph";
  spec.size_bytes = 3 * kGiB + 7;
  spec.fstype = "xfs";
  spec.mkfs_options = "-L db";
  spec.mount_options = "noatime,nodiscard";
  spec.read_only = true;
  spec.suid = true;
  spec.pool = "fast";
  spec.image = "legacy";
  spec.adopted = true;
  spec.features = "layering";
  spec.object_size = 8 * kMiB;

  const VolumeSpec back = SpecFromJson(nlohmann::json::parse(SpecToJson(spec).dump()));
  EXPECT_EQ(back.name, spec.name);
  EXPECT_EQ(back.backend, spec.backend);
  EXPECT_EQ(back.size_bytes, spec.size_bytes);
  EXPECT_EQ(back.fstype, spec.fstype);
  EXPECT_EQ(back.mkfs_options, spec.mkfs_options);
  EXPECT_EQ(back.mount_options, spec.mount_options);
  EXPECT_EQ(back.read_only, spec.read_only);
  EXPECT_EQ(back.suid, spec.suid);
  EXPECT_EQ(back.pool, spec.pool);
  EXPECT_EQ(back.image, spec.image);
  EXPECT_EQ(back.adopted, spec.adopted);
  EXPECT_EQ(back.features, spec.features);
  EXPECT_EQ(back.object_size, spec.object_size);
  EXPECT_EQ(SpecToJson(back), SpecToJson(spec));
}

TEST(SpecJson, OptionalFieldsDefault) {
  const VolumeSpec spec =
      SpecFromJson({{"name", "db"}, {"backend", "ceph"}, {"size_bytes", kGiB}, {"fstype", "ext4"}});
  EXPECT_EQ(spec.mkfs_options, "");
  EXPECT_FALSE(spec.read_only);
  EXPECT_FALSE(spec.adopted);
  EXPECT_EQ(spec.object_size, 4 * kMiB);
}

TEST(SpecJson, MissingRequiredFieldThrows) {
  EXPECT_THROW(SpecFromJson({{"name", "db"}, {"backend", "ceph"}}), nlohmann::json::exception);
}

}  // namespace
}  // namespace berth::engine
