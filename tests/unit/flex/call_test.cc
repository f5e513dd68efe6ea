#include "plugin/flex/call.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "plugin/flex/driver.h"
#include "tests/unit/expect_error.h"

namespace berth::flex {
namespace {

using ::berth::testing::ExpectError;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

using ::berth::testing::kInvalid;

// What kubelet passes for an RBD PV (driver-call.go AppendSpec): fsType, readwrite, the PV name,
// and the user's flexVolume.options.
const std::string kJson = R"({"kubernetes.io/fsType":"ext4","kubernetes.io/readwrite":"rw",)"
                          R"("kubernetes.io/pvOrVolumeName":"pv-1","volume":"db"})";

void ExpectKubeletOptions(const FlexCall& call) {
  ASSERT_TRUE(call.options.has_value()) << call.verb;
  EXPECT_THAT(*call.options, UnorderedElementsAre(Pair("kubernetes.io/fsType", "ext4"),
                                                  Pair("kubernetes.io/readwrite", "rw"),
                                                  Pair("kubernetes.io/pvOrVolumeName", "pv-1"),
                                                  Pair("volume", "db")));
}

// Every field ParseCall did not set for the verb is left at its default.
struct Unset {
  bool node_name = true;
  bool device = true;
  bool device_mount_path = true;
  bool target_path = true;
  bool volume_name = true;
  bool sizes = true;
  bool options = true;
};

void ExpectUnset(const FlexCall& call, const Unset& unset) {
  if (unset.node_name) {
    EXPECT_EQ(call.node_name, "") << call.verb;
  }
  if (unset.device) {
    EXPECT_EQ(call.device, "") << call.verb;
  }
  if (unset.device_mount_path) {
    EXPECT_EQ(call.device_mount_path, "") << call.verb;
  }
  if (unset.target_path) {
    EXPECT_EQ(call.target_path, "") << call.verb;
  }
  if (unset.volume_name) {
    EXPECT_EQ(call.volume_name, "") << call.verb;
  }
  if (unset.sizes) {
    EXPECT_EQ(call.new_size, 0u) << call.verb;
    EXPECT_EQ(call.old_size, 0u) << call.verb;
  }
  if (unset.options) {
    EXPECT_FALSE(call.options.has_value()) << call.verb;
  }
}

// ---------------------------------------------------------------------------------------------
// ParseCall: each verb in kubelet's argv order (ANCHORS §2.1)

TEST(ParseCall, Init) {
  const FlexCall call = ParseCall({"init"});
  EXPECT_EQ(call.verb, "init");
  ExpectUnset(call, {});
}

TEST(ParseCall, GetVolumeName) {
  const FlexCall call = ParseCall({"getvolumename", kJson});
  EXPECT_EQ(call.verb, "getvolumename");
  ExpectKubeletOptions(call);
  ExpectUnset(call, {.options = false});
}

TEST(ParseCall, AttachTakesJsonThenNode) {
  const FlexCall call = ParseCall({"attach", kJson, "node-a"});
  EXPECT_EQ(call.verb, "attach");
  ExpectKubeletOptions(call);
  EXPECT_EQ(call.node_name, "node-a");
  ExpectUnset(call, {.node_name = false, .options = false});
}

TEST(ParseCall, IsAttachedTakesJsonThenNode) {
  const FlexCall call = ParseCall({"isattached", kJson, "node-b"});
  EXPECT_EQ(call.verb, "isattached");
  ExpectKubeletOptions(call);
  EXPECT_EQ(call.node_name, "node-b");
  ExpectUnset(call, {.node_name = false, .options = false});
}

TEST(ParseCall, WaitForAttachTakesDeviceThenJson) {
  // The device is whatever attach replied; berth's is not a path.
  const FlexCall call = ParseCall({"waitforattach", "berth:db", kJson});
  EXPECT_EQ(call.verb, "waitforattach");
  EXPECT_EQ(call.device, "berth:db");
  ExpectKubeletOptions(call);
  ExpectUnset(call, {.device = false, .options = false});
}

TEST(ParseCall, MountDeviceTakesMountPathThenDeviceThenJson) {
  const std::string dmp = "/var/lib/kubelet/plugins/kubernetes.io/flexvolume/berth/rbd/mounts/pv-1";
  const FlexCall call = ParseCall({"mountdevice", dmp, "/dev/rbd0", kJson});
  EXPECT_EQ(call.verb, "mountdevice");
  EXPECT_EQ(call.device_mount_path, dmp);
  EXPECT_EQ(call.device, "/dev/rbd0");
  ExpectKubeletOptions(call);
  ExpectUnset(call, {.device = false, .device_mount_path = false, .options = false});
}

TEST(ParseCall, MountTakesTargetThenJson) {
  const std::string dir = "/var/lib/kubelet/pods/0b1c/volumes/berth~rbd/pv-1";
  const FlexCall call = ParseCall({"mount", dir, kJson});
  EXPECT_EQ(call.verb, "mount");
  EXPECT_EQ(call.target_path, dir);
  ExpectKubeletOptions(call);
  ExpectUnset(call, {.target_path = false, .options = false});
}

TEST(ParseCall, UnmountTakesTarget) {
  const FlexCall call = ParseCall({"unmount", "/var/lib/kubelet/pods/0b1c/volumes/berth~rbd/pv-1"});
  EXPECT_EQ(call.verb, "unmount");
  EXPECT_EQ(call.target_path, "/var/lib/kubelet/pods/0b1c/volumes/berth~rbd/pv-1");
  ExpectUnset(call, {.target_path = false});
}

TEST(ParseCall, UnmountDeviceTakesMountPath) {
  const FlexCall call = ParseCall({"unmountdevice", "/var/lib/kubelet/plugins/x/mounts/pv-1"});
  EXPECT_EQ(call.verb, "unmountdevice");
  EXPECT_EQ(call.device_mount_path, "/var/lib/kubelet/plugins/x/mounts/pv-1");
  ExpectUnset(call, {.device_mount_path = false});
}

TEST(ParseCall, DetachTakesVolumeNameThenNode) {
  // The first argument is kubelet's pvOrVolumeName, not a device.
  const FlexCall call = ParseCall({"detach", "pv-1", "node-a"});
  EXPECT_EQ(call.verb, "detach");
  EXPECT_EQ(call.volume_name, "pv-1");
  EXPECT_EQ(call.node_name, "node-a");
  EXPECT_EQ(call.device, "");
  ExpectUnset(call, {.node_name = false, .volume_name = false});
}

TEST(ParseCall, ExpandVolumeTakesJsonMountPathNewOld) {
  const FlexCall call = ParseCall({"expandvolume", kJson, "/var/lib/kubelet/plugins/x/mounts/pv-1",
                                   "2147483648", "1073741824"});
  EXPECT_EQ(call.verb, "expandvolume");
  ExpectKubeletOptions(call);
  EXPECT_EQ(call.device_mount_path, "/var/lib/kubelet/plugins/x/mounts/pv-1");
  EXPECT_EQ(call.new_size, 2147483648u);
  EXPECT_EQ(call.old_size, 1073741824u);
  ExpectUnset(call, {.device_mount_path = false, .sizes = false, .options = false});
}

TEST(ParseCall, ExpandVolumeAcceptsTheControllerManagersRelativeMountPath) {
  // kube-controller-manager has no plugin dir: its deviceMountPath is "<driver>/mounts/<pv>".
  const FlexCall call =
      ParseCall({"expandvolume", kJson, "berth~rbd/mounts/pv-1", "2147483648", "1073741824"});
  EXPECT_EQ(call.device_mount_path, "berth~rbd/mounts/pv-1");
}

TEST(ParseCall, ExpandFsTakesJsonDevicePathMountPathNewOld) {
  const FlexCall call = ParseCall({"expandfs", kJson, "/dev/rbd3",
                                   "/var/lib/kubelet/plugins/x/mounts/pv-1", "3221225472", "0"});
  EXPECT_EQ(call.verb, "expandfs");
  ExpectKubeletOptions(call);
  EXPECT_EQ(call.device, "/dev/rbd3");
  EXPECT_EQ(call.device_mount_path, "/var/lib/kubelet/plugins/x/mounts/pv-1");
  EXPECT_EQ(call.new_size, 3221225472u);
  EXPECT_EQ(call.old_size, 0u);
  ExpectUnset(call,
              {.device = false, .device_mount_path = false, .sizes = false, .options = false});
}

TEST(ParseCall, SizesUpToUint64Max) {
  const FlexCall call =
      ParseCall({"expandvolume", kJson, "/m", "18446744073709551615", "18446744073709551614"});
  EXPECT_EQ(call.new_size, 18446744073709551615u);
  EXPECT_EQ(call.old_size, 18446744073709551614u);
}

// ---------------------------------------------------------------------------------------------
// ParseCall: argument counts

TEST(ParseCall, WrongArgumentCountsNameTheUsage) {
  struct Case {
    std::vector<std::string> args;
    std::string usage;
  };
  const std::vector<Case> cases = {
      {{"init", "extra"}, "usage: init"},
      {{"getvolumename"}, "usage: getvolumename <json options>"},
      {{"getvolumename", kJson, "x"}, "usage: getvolumename <json options>"},
      {{"attach", kJson}, "usage: attach <json options> <node name>"},
      {{"attach", kJson, "n", "x"}, "usage: attach <json options> <node name>"},
      {{"isattached", kJson}, "usage: isattached <json options> <node name>"},
      {{"waitforattach", kJson}, "usage: waitforattach <device> <json options>"},
      {{"mountdevice", "/m", kJson},
       "usage: mountdevice <device mount path> <device> <json options>"},
      {{"mount", "/t"}, "usage: mount <target path> <json options>"},
      // The pre-1.6 contract: mount <dir> <device> <json>.
      {{"mount", "/t", "/dev/rbd0", kJson}, "usage: mount <target path> <json options>"},
      {{"unmount"}, "usage: unmount <target path>"},
      {{"unmount", "/t", "x"}, "usage: unmount <target path>"},
      {{"unmountdevice"}, "usage: unmountdevice <device mount path>"},
      // The pre-1.6 contract: detach <device>.
      {{"detach", "/dev/rbd0"}, "usage: detach <volume name> <node name>"},
      {{"expandvolume", kJson, "/m", "2"},
       "usage: expandvolume <json options> <device mount path> <new size> <old size>"},
      {{"expandfs", kJson, "/dev/rbd0", "/m", "2"},
       "usage: expandfs <json options> <device path> <device mount path> <new size> <old size>"},
  };
  for (const auto& c : cases) {
    const std::string got = "got " + std::to_string(c.args.size() - 1);
    SCOPED_TRACE(c.args[0] + ": " + got);
    ExpectError([&] { ParseCall(c.args); }, kInvalid, {"usage", c.usage, got});
  }
}

TEST(ParseCall, ArgumentCountMessageSaysWhatIsExpected) {
  ExpectError(
      [] {
        ParseCall({"attach", kJson});
      },
      kInvalid, {"attach takes 2 argument(s), got 1; usage: attach <json options> <node name>"});
  ExpectError(
      [] {
        ParseCall({"init", "a", "b"});
      },
      kInvalid, {"init takes 0 argument(s), got 2; usage: init"});
}

TEST(ParseCall, InitUsageHasNoTrailingSpace) {
  try {
    ParseCall({"init", "x"});
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).back(), 't') << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// ParseCall: verbs

TEST(ParseCall, EmptyArgvIsInvalidAndListsTheCommands) {
  ExpectError([] { ParseCall({}); }, kInvalid, {"no command given", "init", "mount", "expandfs"});
}

TEST(ParseCall, UnknownVerbIsNotFound) {
  ExpectError(
      [] {
        ParseCall({"provision", kJson});
      },
      ErrorCode::kNotFound, {"'provision'", "not supported"});
  ExpectError([] { ParseCall({""}); }, ErrorCode::kNotFound, {"not supported"});
  // Verbs are case-sensitive, as kubelet spells them.
  ExpectError([] { ParseCall({"Init"}); }, ErrorCode::kNotFound, {"'Init'"});
  ExpectError([] { ParseCall({"--help"}); }, ErrorCode::kNotFound, {"'--help'"});
}

TEST(ParseCall, UnknownVerbIsNotFoundWhateverTheArgumentCount) {
  // A future verb must get "Not supported", not a usage error, so kubelet falls back.
  ExpectError([] { ParseCall({"resize"}); }, ErrorCode::kNotFound, {"'resize'"});
  ExpectError(
      [] {
        ParseCall({"resize", "a", "b", "c", "d", "e", "f"});
      },
      ErrorCode::kNotFound, {"'resize'"});
}

TEST(IsKnownVerb, KnowsExactlyKubeletsVerbs) {
  for (const std::string verb :
       {"init", "getvolumename", "attach", "isattached", "waitforattach", "mountdevice", "mount",
        "unmount", "unmountdevice", "detach", "expandvolume", "expandfs"}) {
    EXPECT_TRUE(IsKnownVerb(verb)) << verb;
  }
  for (const std::string verb :
       {"", "provision", "delete", "Init", "MOUNT", "mount ", "getVolumeName", "expand", "help"}) {
    EXPECT_FALSE(IsKnownVerb(verb)) << verb;
  }
}

// ---------------------------------------------------------------------------------------------
// ParseCall: paths

TEST(ParseCall, RefusesRelativePaths) {
  ExpectError(
      [] {
        ParseCall({"mount", "pods/x/volumes/pv-1", kJson});
      },
      kInvalid, {"target path", "'pods/x/volumes/pv-1'", "absolute path"});
  ExpectError(
      [] {
        ParseCall({"unmount", "./pv-1"});
      },
      kInvalid, {"target path", "'./pv-1'", "absolute path"});
  ExpectError(
      [] {
        ParseCall({"mountdevice", "mounts/pv-1", "/dev/rbd0", kJson});
      },
      kInvalid, {"device mount path", "'mounts/pv-1'", "absolute path"});
  ExpectError(
      [] {
        ParseCall({"unmountdevice", "mounts/pv-1"});
      },
      kInvalid, {"device mount path", "'mounts/pv-1'", "absolute path"});
  ExpectError(
      [] {
        ParseCall({"expandfs", kJson, "/dev/rbd0", "mounts/pv-1", "2", "1"});
      },
      kInvalid, {"device mount path", "'mounts/pv-1'", "absolute path"});
}

TEST(ParseCall, RefusesEmptyPaths) {
  ExpectError([] { ParseCall({"mount", "", kJson}); }, kInvalid, {"target path", "absolute path"});
  ExpectError([] { ParseCall({"unmount", ""}); }, kInvalid, {"target path", "absolute path"});
  ExpectError(
      [] {
        ParseCall({"unmountdevice", ""});
      },
      kInvalid, {"device mount path", "absolute path"});
  ExpectError(
      [] {
        ParseCall({"mountdevice", "", "/dev/rbd0", kJson});
      },
      kInvalid, {"device mount path", "absolute path"});
}

TEST(ParseCall, RefusesPathsWithDotComponents) {
  for (const std::string path : {"/var/lib/kubelet/pods/x/../../../../etc",
                                 "/var/lib/kubelet/./pods/x", "/..", "/a/.", "/a/b/.."}) {
    SCOPED_TRACE(path);
    ExpectError(
        [&] {
          ParseCall({"mount", path, kJson});
        },
        kInvalid, {"target path '" + path + "'", "without '.' or '..' components"});
    ExpectError([&] { ParseCall({"unmount", path}); }, kInvalid, {"target path", "'..'"});
    ExpectError(
        [&] {
          ParseCall({"mountdevice", path, "/dev/rbd0", kJson});
        },
        kInvalid, {"device mount path", "'..'"});
    ExpectError(
        [&] {
          ParseCall({"unmountdevice", path});
        },
        kInvalid, {"device mount path", "'..'"});
  }
  // Names that merely contain dots are fine.
  EXPECT_EQ(ParseCall({"unmount", "/a/..b/c.d/..."}).target_path, "/a/..b/c.d/...");
}

TEST(ParseCall, RefusesPathsWithNul) {
  // Not reachable from argv (C strings). The message is cut at the NUL it echoes, so only its
  // start is checked.
  ExpectError(
      [] {
        ParseCall({"unmount", std::string("/a\0b", 4)});
      },
      kInvalid, {"target path '/a"});
}

// ---------------------------------------------------------------------------------------------
// ParseCall: sizes

TEST(ParseCall, RefusesSizesThatAreNotWholeNumbersOfBytes) {
  for (const std::string bad :
       {"", "abc", "1G", "1.5", "-1", "+1", " 1", "1 ", "0x10", "18446744073709551616"}) {
    SCOPED_TRACE("size '" + bad + "'");
    ExpectError(
        [&] {
          ParseCall({"expandvolume", kJson, "/m", bad, "1"});
        },
        kInvalid, {"new size '" + bad + "'", "whole number of bytes"});
    ExpectError(
        [&] {
          ParseCall({"expandvolume", kJson, "/m", "1", bad});
        },
        kInvalid, {"old size '" + bad + "'", "whole number of bytes"});
    ExpectError(
        [&] {
          ParseCall({"expandfs", kJson, "/dev/rbd0", "/m", bad, "1"});
        },
        kInvalid, {"new size '" + bad + "'", "whole number of bytes"});
    ExpectError(
        [&] {
          ParseCall({"expandfs", kJson, "/dev/rbd0", "/m", "1", bad});
        },
        kInvalid, {"old size '" + bad + "'", "whole number of bytes"});
  }
}

// ---------------------------------------------------------------------------------------------
// ParseCall / ParseOptions: the JSON

TEST(ParseCall, RefusesMalformedJsonForEveryVerbThatTakesIt) {
  const std::string bad = R"({"volume": "db")";  // unterminated object
  const std::vector<std::vector<std::string>> calls = {
      {"getvolumename", bad},
      {"attach", bad, "node"},
      {"isattached", bad, "node"},
      {"waitforattach", "berth:db", bad},
      {"mountdevice", "/m", "/dev/rbd0", bad},
      {"mount", "/t", bad},
      {"expandvolume", bad, "/m", "2", "1"},
      {"expandfs", bad, "/dev/rbd0", "/m", "2", "1"},
  };
  for (const auto& args : calls) {
    SCOPED_TRACE(args[0]);
    ExpectError([&] { ParseCall(args); }, kInvalid, {"options are not valid JSON"});
  }
}

TEST(ParseOptions, ReadsAnObjectOfStrings) {
  EXPECT_THAT(ParseOptions(kJson),
              UnorderedElementsAre(
                  Pair("kubernetes.io/fsType", "ext4"), Pair("kubernetes.io/readwrite", "rw"),
                  Pair("kubernetes.io/pvOrVolumeName", "pv-1"), Pair("volume", "db")));
  EXPECT_TRUE(ParseOptions("{}").empty());
  EXPECT_TRUE(ParseOptions(" \n{ }\n").empty());
  // Empty strings are values like any other (kubelet sends fsType "" when the PV has none).
  EXPECT_THAT(ParseOptions(R"({"kubernetes.io/fsType":""})"),
              UnorderedElementsAre(Pair("kubernetes.io/fsType", "")));
  EXPECT_THAT(ParseOptions(R"({"a":"caf\u00e9 \"x\""})"),
              UnorderedElementsAre(Pair("a", "caf\xc3\xa9 \"x\"")));
}

TEST(ParseOptions, RefusesMalformedJson) {
  for (const std::string bad :
       {"", "{", "{\"a\":}", "{\"a\":\"b\",}", "{'a':'b'}", "{\"a\":\"b\"} {}", "volume=db"}) {
    SCOPED_TRACE(bad);
    ExpectError([&] { ParseOptions(bad); }, kInvalid, {"options are not valid JSON"});
  }
}

TEST(ParseOptions, RefusesJsonThatIsNotAnObject) {
  ExpectError([] { ParseOptions(R"(["volume","db"])"); }, kInvalid,
              {"must be a JSON object of strings", "not array"});
  ExpectError([] { ParseOptions(R"("db")"); }, kInvalid, {"JSON object", "not string"});
  ExpectError([] { ParseOptions("42"); }, kInvalid, {"JSON object", "not number"});
  ExpectError([] { ParseOptions("null"); }, kInvalid, {"JSON object", "not null"});
  ExpectError([] { ParseCall({"mount", "/t", "[]"}); }, kInvalid, {"JSON object", "not array"});
}

TEST(ParseOptions, RefusesValuesThatAreNotStrings) {
  ExpectError([] { ParseOptions(R"({"volume":"db","size":10})"); }, kInvalid,
              {"option 'size' must be a string, not number"});
  ExpectError([] { ParseOptions(R"({"create":true})"); }, kInvalid,
              {"option 'create' must be a string, not boolean"});
  ExpectError([] { ParseOptions(R"({"volume":null})"); }, kInvalid,
              {"option 'volume' must be a string, not null"});
  ExpectError([] { ParseOptions(R"({"volume":{"name":"db"}})"); }, kInvalid,
              {"option 'volume' must be a string, not object"});
  ExpectError([] { ParseOptions(R"({"volume":["db"]})"); }, kInvalid,
              {"option 'volume' must be a string, not array"});
  ExpectError(
      [] {
        ParseCall({"attach", R"({"kubernetes.io/readwrite":false})", "n"});
      },
      kInvalid, {"option 'kubernetes.io/readwrite' must be a string, not boolean"});
}

// ---------------------------------------------------------------------------------------------
// Replies (driver.h)

TEST(InitReply, RbdIsAttachableWithMetricsAndNoFsGroup) {
  const nlohmann::json reply = InitReply(DriverKind::kRbd);
  EXPECT_EQ(reply.at("status"), "Success");
  ASSERT_TRUE(reply.contains("capabilities")) << reply.dump();
  const auto& caps = reply.at("capabilities");
  EXPECT_EQ(caps.at("attach"), true);
  EXPECT_EQ(caps.at("fsGroup"), false);
  EXPECT_EQ(caps.at("supportsMetrics"), true);
  EXPECT_EQ(caps.at("requiresFSResize"), true);
}

TEST(InitReply, NfsIsNotAttachable) {
  const nlohmann::json reply = InitReply(DriverKind::kNfs);
  EXPECT_EQ(reply.at("status"), "Success");
  const auto& caps = reply.at("capabilities");
  EXPECT_EQ(caps.at("attach"), false);
  EXPECT_EQ(caps.at("fsGroup"), false);
  EXPECT_EQ(caps.at("supportsMetrics"), true);
}

// The node-only RBD driver: kubelet calls neither attach nor waitforattach and
// kube-controller-manager nothing at all; `mount` attaches. It still grows filesystems.
TEST(InitReply, RbdNodeIsNotAttachableButResizes) {
  const nlohmann::json reply = InitReply(DriverKind::kRbdNode);
  const auto& caps = reply.at("capabilities");
  EXPECT_EQ(caps.at("attach"), false);
  EXPECT_EQ(caps.at("fsGroup"), false);
  EXPECT_EQ(caps.at("supportsMetrics"), true);
  EXPECT_EQ(caps.at("requiresFSResize"), true);
}

TEST(DriverKind, NamesRoundTripAndNothingElseParses) {
  for (const auto driver : {DriverKind::kRbd, DriverKind::kRbdNode, DriverKind::kNfs}) {
    EXPECT_EQ(ParseDriverName(DriverName(driver)), driver);
  }
  EXPECT_EQ(DriverName(DriverKind::kRbdNode), "rbd-node");
  EXPECT_EQ(BackendType(DriverKind::kRbdNode), "rbd");
  EXPECT_EQ(BackendType(DriverKind::kNfs), "nfs");
  for (const std::string name : {"", "RBD", "rbd-nod", "rbd_node", "nfs ", "lvm", "berth/rbd"}) {
    EXPECT_FALSE(ParseDriverName(name).has_value()) << name;
  }
}

TEST(InitReply, CapabilitiesKeyIsExactlyLowerCase) {
  for (const auto driver : {DriverKind::kRbd, DriverKind::kRbdNode, DriverKind::kNfs}) {
    const nlohmann::json reply = InitReply(driver);
    EXPECT_FALSE(reply.contains("Capabilities")) << reply.dump();
    EXPECT_THAT(reply.dump(), HasSubstr(R"("capabilities":{)"));
    // Capabilities are JSON booleans, not strings: kubelet's DriverCapabilities has bool fields.
    for (const auto& [name, value] : reply.at("capabilities").items()) {
      EXPECT_TRUE(value.is_boolean()) << name << " in " << reply.dump();
    }
    // One object with only status and capabilities: no stray message or device.
    EXPECT_EQ(reply.size(), 2u) << reply.dump();
  }
}

TEST(Replies, StatusStringsAreKubeletsExactly) {
  EXPECT_EQ(SuccessReply(), nlohmann::json({{"status", "Success"}}));

  const nlohmann::json failure = FailureReply("volume db does not exist");
  EXPECT_EQ(failure.at("status"), "Failure");
  EXPECT_EQ(failure.at("message"), "volume db does not exist");
  EXPECT_EQ(failure.size(), 2u);

  const nlohmann::json unsupported = NotSupportedReply("no expandvolume here");
  EXPECT_EQ(unsupported.at("status"), "Not supported");
  EXPECT_EQ(unsupported.at("message"), "no expandvolume here");
  EXPECT_EQ(unsupported.size(), 2u);
  EXPECT_THAT(unsupported.dump(), HasSubstr(R"("status":"Not supported")"));
  EXPECT_THAT(failure.dump(), Not(HasSubstr("Success")));
}

TEST(ParseOptions, MalformedJsonErrorNeverQuotesTheText) {
  // An unterminated string: the JSON library's own message would quote it, secret or not.
  const std::string secret = "c2VjcmV0LXBhc3N3b3Jk";
  try {
    ParseOptions("{\"kubernetes.io/secret/key\": \"" + secret);
    FAIL() << "malformed JSON was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not valid JSON"));
    EXPECT_THAT(e.what(), Not(HasSubstr(secret.substr(0, 8))));
  }
}

}  // namespace
}  // namespace berth::flex
