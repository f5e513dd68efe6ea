#include "plugin/flex/volume_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "tests/unit/expect_error.h"

namespace berth::flex {
namespace {

using ::berth::testing::ExpectError;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

using ::berth::testing::kInvalid;
constexpr auto kRbd = DriverKind::kRbd;
constexpr auto kNfs = DriverKind::kNfs;

// The keys kubelet sets on every call (driver-call.go AppendSpec), plus `extra`.
FlexOptions Kubelet(FlexOptions extra, const std::string& pv = "pv-1") {
  FlexOptions options = {{"kubernetes.io/fsType", ""},
                         {"kubernetes.io/readwrite", "rw"},
                         {"kubernetes.io/pvOrVolumeName", pv}};
  for (auto& [key, value] : extra) {
    options[key] = value;
  }
  return options;
}

// The message of the berth::Error that `call` throws ("" and a test failure if none).
template <typename Call>
std::string ErrorMessage(Call call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected berth::Error, nothing was thrown";
  return "";
}

// ---------------------------------------------------------------------------------------------
// The volume name

TEST(ParseVolumeRequest, NameIsVolumeOptionFirst) {
  for (const auto driver : {kRbd, kNfs}) {
    const VolumeRequest request = ParseVolumeRequest(driver, Kubelet({{"volume", "db"}}));
    EXPECT_EQ(request.name, "db");
    EXPECT_EQ(request.alias, "pv-1");
  }
  const VolumeRequest request =
      ParseVolumeRequest(kRbd, Kubelet({{"volume", "db"}, {"image", "legacy-img"}}));
  EXPECT_EQ(request.name, "db");
  EXPECT_EQ(request.image, "legacy-img");
  EXPECT_EQ(request.alias, "pv-1");
}

TEST(ParseVolumeRequest, NameIsImageWhenNoVolumeOption) {
  const VolumeRequest request = ParseVolumeRequest(kRbd, Kubelet({{"image", "legacy-img"}}));
  EXPECT_EQ(request.name, "legacy-img");
  EXPECT_EQ(request.image, "legacy-img");
  EXPECT_EQ(request.alias, "pv-1");
  // Named, so the engine may adopt it (an image merely named like the volume is never adopted).
  EXPECT_EQ(request.create_options.at("image"), "legacy-img");
}

TEST(ParseVolumeRequest, NameIsKubeletsVolumeNameLast) {
  for (const auto driver : {kRbd, kNfs}) {
    const VolumeRequest request = ParseVolumeRequest(driver, Kubelet({}, "pvc-0b1c-42"));
    EXPECT_EQ(request.name, "pvc-0b1c-42");
    EXPECT_EQ(request.alias, "pvc-0b1c-42");
  }
  // An empty volume option is no volume option.
  EXPECT_EQ(ParseVolumeRequest(kRbd, Kubelet({{"volume", ""}})).name, "pv-1");
  EXPECT_EQ(ParseVolumeRequest(kRbd, Kubelet({{"volume", ""}, {"image", "img"}})).name, "img");
}

TEST(ParseVolumeRequest, AliasIsEmptyWithoutKubeletsVolumeName) {
  const VolumeRequest request = ParseVolumeRequest(kRbd, {{"volume", "db"}});
  EXPECT_EQ(request.name, "db");
  EXPECT_EQ(request.alias, "");
}

TEST(ParseVolumeRequest, ImageOfAnotherNameBecomesACreateOption) {
  const VolumeRequest request =
      ParseVolumeRequest(kRbd, Kubelet({{"volume", "db"}, {"image", "legacy-img"}}));
  EXPECT_THAT(request.create_options, UnorderedElementsAre(Pair("image", "legacy-img")));
}

TEST(ParseVolumeRequest, RefusesMissingName) {
  for (const auto driver : {kRbd, kNfs}) {
    ExpectError([&] { ParseVolumeRequest(driver, {}); }, kInvalid,
                {"no volume named", "volume", "kubernetes.io/pvOrVolumeName"});
    ExpectError(
        [&] {
          ParseVolumeRequest(driver, {{"volume", ""}});
        },
        kInvalid, {"no volume named"});
    ExpectError(
        [&] {
          ParseVolumeRequest(driver, {{"kubernetes.io/pvOrVolumeName", ""}, {"volume", ""}});
        },
        kInvalid, {"no volume named"});
  }
  ExpectError(
      [] {
        ParseVolumeRequest(kRbd, {{"volume", ""}, {"image", ""}});
      },
      kInvalid, {"no volume named", "(or image)"});
}

TEST(ParseVolumeRequest, RefusesBadVolumeNames) {
  for (const auto driver : {kRbd, kNfs}) {
    ExpectError(
        [&] {
          ParseVolumeRequest(driver, Kubelet({{"volume", "../x"}}));
        },
        kInvalid, {"'../x'", "must start with a letter or digit"});
    ExpectError(
        [&] {
          ParseVolumeRequest(driver, Kubelet({{"volume", "-x"}}));
        },
        kInvalid, {"'-x'", "must start with a letter or digit"});
    ExpectError(
        [&] {
          ParseVolumeRequest(driver, Kubelet({{"volume", "a/b"}}));
        },
        kInvalid, {"'a/b'"});
    // The fallbacks are checked the same way.
    ExpectError([&] { ParseVolumeRequest(driver, Kubelet({}, "../x")); }, kInvalid, {"'../x'"});
    ExpectError([&] { ParseVolumeRequest(driver, Kubelet({}, "-x")); }, kInvalid, {"'-x'"});
  }
  ExpectError([] { ParseVolumeRequest(kRbd, Kubelet({{"image", "../x"}})); }, kInvalid, {"'../x'"});
}

// ---------------------------------------------------------------------------------------------
// create, readwrite, fsGroup, fsType

TEST(ParseVolumeRequest, Create) {
  for (const auto driver : {kRbd, kNfs}) {
    EXPECT_FALSE(ParseVolumeRequest(driver, Kubelet({})).create);
    EXPECT_TRUE(ParseVolumeRequest(driver, Kubelet({{"create", "true"}})).create);
    EXPECT_FALSE(ParseVolumeRequest(driver, Kubelet({{"create", "false"}})).create);
    // create is the request's, not a berth Create option.
    EXPECT_FALSE(ParseVolumeRequest(driver, Kubelet({{"create", "true"}}))
                     .create_options.contains("create"));
  }
}

TEST(ParseVolumeRequest, RefusesBadCreate) {
  for (const std::string bad : {"yes", "True", "1", "", " true"}) {
    SCOPED_TRACE("create '" + bad + "'");
    ExpectError(
        [&] {
          ParseVolumeRequest(kRbd, Kubelet({{"create", bad}}));
        },
        kInvalid, {"option create is '" + bad + "'", "expected \"true\" or \"false\""});
    ExpectError(
        [&] {
          ParseVolumeRequest(kNfs, Kubelet({{"create", bad}}));
        },
        kInvalid, {"option create is '" + bad + "'"});
  }
}

TEST(ParseVolumeRequest, ReadWrite) {
  for (const auto driver : {kRbd, kNfs}) {
    EXPECT_TRUE(ParseVolumeRequest(driver, Kubelet({{"kubernetes.io/readwrite", "ro"}})).read_only);
    EXPECT_FALSE(
        ParseVolumeRequest(driver, Kubelet({{"kubernetes.io/readwrite", "rw"}})).read_only);
    EXPECT_FALSE(ParseVolumeRequest(driver, {{"volume", "db"}}).read_only);
  }
}

TEST(ParseVolumeRequest, RefusesBadReadWrite) {
  for (const std::string bad : {"RO", "rwx", "readonly", "true"}) {
    SCOPED_TRACE(bad);
    ExpectError(
        [&] {
          ParseVolumeRequest(kRbd, Kubelet({{"kubernetes.io/readwrite", bad}}));
        },
        kInvalid, {"kubernetes.io/readwrite is '" + bad + "'", "expected ro or rw"});
  }
}

TEST(ParseVolumeRequest, FsGroupInBothSpellings) {
  for (const auto driver : {kRbd, kNfs}) {
    EXPECT_FALSE(ParseVolumeRequest(driver, Kubelet({})).fs_group.has_value());
    // What kubelet's code sends...
    EXPECT_EQ(ParseVolumeRequest(driver, Kubelet({{"kubernetes.io/mounterArgs.FsGroup", "2000"}}))
                  .fs_group,
              2000u);
    // ...and what the FlexVolume doc says it sends.
    EXPECT_EQ(ParseVolumeRequest(driver, Kubelet({{"kubernetes.io/fsGroup", "3000"}})).fs_group,
              3000u);
  }
  EXPECT_EQ(ParseVolumeRequest(kRbd, Kubelet({{"kubernetes.io/fsGroup", "0"}})).fs_group, 0u);
  EXPECT_EQ(ParseVolumeRequest(kRbd, Kubelet({{"kubernetes.io/fsGroup", "4294967295"}})).fs_group,
            4294967295u);
}

TEST(ParseVolumeRequest, RefusesBadFsGroup) {
  for (const std::string bad : {"abc", "", "-1", "1.5", " 2000", "2000 ", "4294967296"}) {
    SCOPED_TRACE("fsGroup '" + bad + "'");
    ExpectError(
        [&] {
          ParseVolumeRequest(kRbd, Kubelet({{"kubernetes.io/mounterArgs.FsGroup", bad}}));
        },
        kInvalid, {"fsGroup '" + bad + "'", "group id"});
    ExpectError(
        [&] {
          ParseVolumeRequest(kNfs, Kubelet({{"kubernetes.io/fsGroup", bad}}));
        },
        kInvalid, {"fsGroup '" + bad + "'", "group id"});
  }
}

TEST(ParseVolumeRequest, FsTypeBecomesTheFstypeOption) {
  const VolumeRequest request =
      ParseVolumeRequest(kRbd, Kubelet({{"kubernetes.io/fsType", "xfs"}}));
  EXPECT_THAT(request.create_options, UnorderedElementsAre(Pair("fstype", "xfs")));
  // kubelet sends "" when the PV names none: berth's default applies.
  EXPECT_THAT(ParseVolumeRequest(kRbd, Kubelet({{"kubernetes.io/fsType", ""}})).create_options,
              IsEmpty());
}

TEST(ParseVolumeRequest, ExplicitFstypeOptionWinsOverFsType) {
  const VolumeRequest request =
      ParseVolumeRequest(kRbd, Kubelet({{"kubernetes.io/fsType", "xfs"}, {"fstype", "ext4"}}));
  EXPECT_THAT(request.create_options, UnorderedElementsAre(Pair("fstype", "ext4")));
}

// ---------------------------------------------------------------------------------------------
// Options

TEST(ParseVolumeRequest, RbdCreateOptions) {
  const VolumeRequest request =
      ParseVolumeRequest(kRbd, Kubelet({{"volume", "db"},
                                        {"create", "true"},
                                        {"backend", "fast"},
                                        {"pool", "ssd"},
                                        {"size", "10G"},
                                        {"fstype", "xfs"},
                                        {"mkfs_options", "-m 0"},
                                        {"mount_options", "noatime"},
                                        {"features", "layering,exclusive-lock"},
                                        {"object_size", "4M"},
                                        {"user", "berth"}}));
  EXPECT_EQ(request.name, "db");
  EXPECT_TRUE(request.create);
  EXPECT_EQ(request.user, "berth");
  EXPECT_EQ(request.key, "");
  EXPECT_THAT(
      request.create_options,
      UnorderedElementsAre(Pair("backend", "fast"), Pair("pool", "ssd"), Pair("size", "10G"),
                           Pair("fstype", "xfs"), Pair("mkfs_options", "-m 0"),
                           Pair("mount_options", "noatime"),
                           Pair("features", "layering,exclusive-lock"), Pair("object_size", "4M")));
}

// berth/rbd-node takes exactly berth/rbd's options, and names itself in its errors.
TEST(ParseVolumeRequest, RbdNodeTakesTheRbdOptions) {
  const auto options = Kubelet({{"volume", "db"},
                                {"kubernetes.io/fsType", "xfs"},
                                {"size", "10G"},
                                {"features", "layering"},
                                {"user", "berth"}});
  const VolumeRequest node = ParseVolumeRequest(DriverKind::kRbdNode, options);
  const VolumeRequest rbd = ParseVolumeRequest(kRbd, options);
  EXPECT_EQ(node.name, rbd.name);
  EXPECT_EQ(node.user, rbd.user);
  EXPECT_EQ(node.create_options, rbd.create_options);
  EXPECT_THAT(node.create_options, Contains(Pair("fstype", "xfs")));
  ExpectError(
      [] {
        ParseVolumeRequest(DriverKind::kRbdNode, Kubelet({{"subdir", "a"}}));
      },
      kInvalid, {"unknown option 'subdir'", "berth/rbd-node", "features"});
}

TEST(ParseVolumeRequest, NfsCreateOptions) {
  const VolumeRequest request = ParseVolumeRequest(kNfs, Kubelet({{"volume", "shared-data"},
                                                                  {"create", "true"},
                                                                  {"backend", "nas"},
                                                                  {"subdir", "team/a"},
                                                                  {"uid", "1000"},
                                                                  {"gid", "1000"},
                                                                  {"mode", "0770"},
                                                                  {"on_remove", "keep"}}));
  EXPECT_EQ(request.name, "shared-data");
  EXPECT_TRUE(request.create);
  EXPECT_THAT(
      request.create_options,
      UnorderedElementsAre(Pair("backend", "nas"), Pair("subdir", "team/a"), Pair("uid", "1000"),
                           Pair("gid", "1000"), Pair("mode", "0770"), Pair("on_remove", "keep")));
}

TEST(ParseVolumeRequest, RefusesBadSizeEvenWhenNotCreating) {
  for (const auto& [bad_size, says] : std::vector<std::pair<std::string, std::string>>{
           {"abc", "is not a number"}, {"0", "is zero"}, {"-1G", "is negative"}}) {
    const std::string& bad = bad_size;  // lambdas cannot capture a structured binding in clang 14
    SCOPED_TRACE("size '" + bad + "'");
    ExpectError(
        [&] {
          ParseVolumeRequest(kRbd, Kubelet({{"size", bad}}));
        },
        kInvalid, {"size '" + bad + "' " + says});
    ExpectError(
        [&] {
          ParseVolumeRequest(kRbd, Kubelet({{"size", bad}, {"create", "false"}}));
        },
        kInvalid, {"size '" + bad + "'"});
    ExpectError(
        [&] {
          ParseVolumeRequest(kRbd, Kubelet({{"size", bad}, {"create", "true"}}));
        },
        kInvalid, {"size '" + bad + "'"});
  }
}

TEST(ParseVolumeRequest, RefusesUnknownOptionsNamingTheAllowedOnes) {
  ExpectError(
      [] {
        ParseVolumeRequest(kRbd, Kubelet({{"sise", "10G"}}));
      },
      kInvalid,
      {"unknown option 'sise'", "berth/rbd",
       "allowed: backend, create, features, fstype, image, mkfs_options, mount_options, "
       "object_size, pool, size, user, volume and kubernetes.io/* keys"});
  ExpectError(
      [] {
        ParseVolumeRequest(kNfs, Kubelet({{"server", "10.0.0.1"}}));
      },
      kInvalid,
      {"unknown option 'server'", "berth/nfs",
       "allowed: backend, create, gid, mode, on_remove, subdir, uid, volume and "
       "kubernetes.io/* keys"});
  // berth's own read_only is kubelet's kubernetes.io/readwrite here.
  ExpectError(
      [] {
        ParseVolumeRequest(kRbd, Kubelet({{"read_only", "true"}}));
      },
      kInvalid, {"unknown option 'read_only'"});
  // Option names are case-sensitive.
  ExpectError(
      [] {
        ParseVolumeRequest(kRbd, Kubelet({{"Volume", "db"}}));
      },
      kInvalid, {"unknown option 'Volume'"});
}

TEST(ParseVolumeRequest, RbdRefusesNfsOptions) {
  for (const std::string key : {"subdir", "uid", "gid", "mode", "on_remove"}) {
    SCOPED_TRACE(key);
    ExpectError(
        [&] {
          ParseVolumeRequest(kRbd, Kubelet({{key, "1"}}));
        },
        kInvalid, {"unknown option '" + key + "'", "berth/rbd"});
  }
}

TEST(ParseVolumeRequest, NfsRefusesRbdOptions) {
  for (const std::string key : {"pool", "image", "size", "fstype", "mkfs_options", "mount_options",
                                "features", "object_size", "user"}) {
    SCOPED_TRACE(key);
    ExpectError(
        [&] {
          ParseVolumeRequest(kNfs, Kubelet({{key, "1"}}));
        },
        kInvalid, {"unknown option '" + key + "'", "berth/nfs"});
  }
}

TEST(ParseVolumeRequest, IgnoresKubeletsOtherKeys) {
  // What kubelet adds for `mount`, and what older docs list; none is for berth.
  const FlexOptions options = Kubelet({{"volume", "db"},
                                       {"kubernetes.io/pod.name", "web-0"},
                                       {"kubernetes.io/pod.namespace", "default"},
                                       {"kubernetes.io/pod.uid", "0b1c-42"},
                                       {"kubernetes.io/pod.UID", "0b1c-42"},
                                       {"kubernetes.io/serviceAccount.name", "default"},
                                       {"kubernetes.io/mountsDir", "/var/lib/kubelet/x"},
                                       {"kubernetes.io/somethingNew", "whatever"}});
  for (const auto driver : {kRbd, kNfs}) {
    const VolumeRequest request = ParseVolumeRequest(driver, options);
    EXPECT_EQ(request.name, "db");
    EXPECT_EQ(request.alias, "pv-1");
    EXPECT_FALSE(request.read_only);
    EXPECT_FALSE(request.fs_group.has_value());
    EXPECT_THAT(request.create_options, IsEmpty());
    EXPECT_EQ(request.user, "");
    EXPECT_EQ(request.key, "");
  }
}

// ---------------------------------------------------------------------------------------------
// Secrets

// A cephx key as `ceph auth get-key` prints it, and that key as kubelet passes it: base64 of
// the Secret's data value (itself the key plus the newline `echo` adds).
constexpr const char* kCephKey = "AQAAAF9nAAAAABAAYmVydGh0ZXN0c2VjcmV0IQ==";
// base64("AQAAAF9nAAAAABAAYmVydGh0ZXN0c2VjcmV0IQ==\n")
constexpr const char* kCephKeyData = "QVFBQUFGOW5BQUFBQUJBQVltVnlkR2gwWlhOMGMyVmpjbVYwSVE9PQo=";
constexpr const char* kUserData = "YmVydGgtazhz";  // base64("berth-k8s")

TEST(ParseVolumeRequest, SecretKeyAndUserIdAreDecoded) {
  const VolumeRequest request =
      ParseVolumeRequest(kRbd, Kubelet({{"volume", "db"},
                                        {"user", "berth-k8s"},
                                        {"kubernetes.io/secret/key", kCephKeyData},
                                        {"kubernetes.io/secret/userID", kUserData}}));
  EXPECT_EQ(request.key, kCephKey);  // decoded and trimmed of the newline
  EXPECT_EQ(request.user, "berth-k8s");
  // Secrets never become Create options.
  EXPECT_THAT(request.create_options, IsEmpty());
}

TEST(ParseVolumeRequest, SecretUserKeyAndUserAreDecoded) {
  const VolumeRequest request =
      ParseVolumeRequest(kRbd, Kubelet({{"volume", "db"},
                                        {"user", "berth-k8s"},
                                        {"kubernetes.io/secret/userKey", kCephKeyData},
                                        {"kubernetes.io/secret/user", kUserData}}));
  EXPECT_EQ(request.key, kCephKey);
  EXPECT_EQ(request.user, "berth-k8s");
}

// The calls before `mount` get no secret, so the user lives in the options; a secret's userID
// that is alone, or says another user, is refused rather than used in `mount` only.
TEST(ParseVolumeRequest, SecretUserIdMustRepeatTheUserOption) {
  ExpectError(
      [] {
        ParseVolumeRequest(kRbd, Kubelet({{"volume", "db"},
                                          {"kubernetes.io/secret/key", kCephKeyData},
                                          {"kubernetes.io/secret/userID", kUserData}}));
      },
      kInvalid, {"cephx user berth-k8s (userID)", "set option user: berth-k8s"});
  ExpectError(
      [] {
        ParseVolumeRequest(kRbd, Kubelet({{"volume", "db"},
                                          {"user", "tenant-b"},
                                          {"kubernetes.io/secret/key", kCephKeyData},
                                          {"kubernetes.io/secret/userID", kUserData}}));
      },
      kInvalid, {"berth-k8s (userID) differs from option user tenant-b"});
}

TEST(ParseVolumeRequest, SecretKeyWithUserOption) {
  const VolumeRequest request = ParseVolumeRequest(
      kRbd,
      Kubelet(
          {{"volume", "db"}, {"user", "berth-k8s"}, {"kubernetes.io/secret/key", kCephKeyData}}));
  EXPECT_EQ(request.key, kCephKey);
  EXPECT_EQ(request.user, "berth-k8s");
}

TEST(ParseVolumeRequest, OtherSecretKeysAreIgnored) {
  const VolumeRequest request = ParseVolumeRequest(
      kRbd, Kubelet({{"volume", "db"}, {"kubernetes.io/secret/monitors", "MTAuMC4wLjE6Njc4OQ=="}}));
  EXPECT_EQ(request.key, "");
  EXPECT_EQ(request.user, "");
  EXPECT_THAT(request.create_options, IsEmpty());
}

TEST(ParseVolumeRequest, RefusesKeyWithoutUser) {
  ExpectError(
      [] {
        ParseVolumeRequest(kRbd,
                           Kubelet({{"volume", "db"}, {"kubernetes.io/secret/key", kCephKeyData}}));
      },
      kInvalid, {"key but the volume names no cephx user", "option user"});
  const std::string message = ErrorMessage([] {
    ParseVolumeRequest(kRbd,
                       Kubelet({{"volume", "db"}, {"kubernetes.io/secret/key", kCephKeyData}}));
  });
  EXPECT_THAT(message, Not(HasSubstr(kCephKey)));
  EXPECT_THAT(message, Not(HasSubstr(kCephKeyData)));
}

TEST(ParseVolumeRequest, RefusesInvalidBase64WithoutShowingTheSecret) {
  // Not base64 ('!' and '%'): kubelet never sends this, a hand-made call might.
  const std::string raw = "AQB!s3cr3t%v4lue";
  for (const std::string name : {"key", "userKey", "userID", "user", "monitors"}) {
    SCOPED_TRACE(name);
    const auto call = [&] {
      ParseVolumeRequest(kRbd, Kubelet({{"volume", "db"},
                                        {"user", "berth-k8s"},
                                        {"kubernetes.io/secret/" + name, raw}}));
    };
    ExpectError(call, kInvalid, {"secret value '" + name + "'", "not valid base64"});
    const std::string message = ErrorMessage(call);
    EXPECT_THAT(message, Not(HasSubstr(raw)));
    EXPECT_THAT(message, Not(HasSubstr("s3cr3t")));
    EXPECT_THAT(message, Not(HasSubstr("v4lue")));
  }
}

// ---------------------------------------------------------------------------------------------
// DecodeBase64

TEST(DecodeBase64, KnownVectors) {
  EXPECT_EQ(DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(DecodeBase64("aGVsbG8"), "hello");  // padding is optional
  EXPECT_EQ(DecodeBase64(""), "");
  // RFC 4648 section 10, padded and not.
  EXPECT_EQ(DecodeBase64("Zg=="), "f");
  EXPECT_EQ(DecodeBase64("Zg"), "f");
  EXPECT_EQ(DecodeBase64("Zm8="), "fo");
  EXPECT_EQ(DecodeBase64("Zm8"), "fo");
  EXPECT_EQ(DecodeBase64("Zm9v"), "foo");
  EXPECT_EQ(DecodeBase64("Zm9vYg=="), "foob");
  EXPECT_EQ(DecodeBase64("Zm9vYmE="), "fooba");
  EXPECT_EQ(DecodeBase64("Zm9vYmFy"), "foobar");
}

TEST(DecodeBase64, DecodesBinaryAndTheWholeAlphabet) {
  EXPECT_EQ(DecodeBase64("AAEC/w=="), std::string("\x00\x01\x02\xff", 4));
  EXPECT_EQ(DecodeBase64("+/+/"), "\xfb\xff\xbf");
  EXPECT_EQ(DecodeBase64("QUJDWFlaYWJjeHl6MDEyMzQ1Njc4OQ=="), "ABCXYZabcxyz0123456789");
}

TEST(DecodeBase64, ToleratesSurroundingWhitespace) {
  EXPECT_EQ(DecodeBase64("aGVsbG8=\n"), "hello");
  EXPECT_EQ(DecodeBase64("  aGVsbG8=  "), "hello");
}

TEST(DecodeBase64, RefusesInvalidInput) {
  for (const std::string bad : {
           "a",                 // one character of a quantum cannot hold a byte
           "aGVsbG8*",          // not the alphabet
           "aGVsbG8-",          // the URL-safe alphabet is not kubelet's
           "aGVs_bG8",          //
           "aGV sbG8=",         // whitespace inside
           "aGVs\nbG8=",        //
           "aG=sbG8=",          // padding inside
           "=aGVsbG8",          //
           "aGVsbG8=====",      // more padding than a quantum has
           "Zm9v=",             // padding after a full quantum
           "Zm9v====",          //
           "Zg=",               // one '=' where two are due
           "=",                 //
           "==",                //
           "aGVsbG8=\x01",      // a control character
           "aGVsbG8=\xc3\xa9",  // non-ASCII
       }) {
    SCOPED_TRACE(bad);
    ExpectError([&] { DecodeBase64(bad); }, kInvalid, {"not valid base64"});
  }
}

TEST(ParseVolumeRequest, NfsIgnoresTheSpecFsType) {
  const auto request = ParseVolumeRequest(kNfs, Kubelet({{"kubernetes.io/fsType", "ext4"}}));
  EXPECT_FALSE(request.create_options.contains("fstype"));
}

}  // namespace
}  // namespace berth::flex
