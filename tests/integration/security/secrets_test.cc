// A cephx key appears in no log, error, reply (docker volume inspect is Get's Status), state or
// work file (issue 7): berthd, berth-flex with the key from a pod's secret, and berthctl, all
// on one simulated node, then every file of that node and every reply searched for the key in
// all the forms it could leak in.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "common/files.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "tests/integration/engine/lab.h"
#include "tests/integration/flex/kubelet.h"
#include "tests/integration/security/security.h"
#include "tests/support/berthd_process.h"
#include "tests/support/plugin_client.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;

// The key of a keyring file ("key = AQ...").
std::string KeyOf(const std::string& keyring) {
  for (const auto& line : Split(ReadFileIfExists(keyring).value_or(""), '\n')) {
    const std::string trimmed = Trim(line);
    if (trimmed.starts_with("key")) {
      return Trim(trimmed.substr(trimmed.find('=') + 1));
    }
  }
  return "";
}

// The forms a key could leak in: as written, without its padding, base64 of it as kubelet
// passes a Secret value (with and without a newline), and its raw secret bytes.
std::vector<std::pair<std::string, std::string>> Needles(const std::string& label,
                                                         const std::string& key) {
  std::string unpadded = key;
  while (!unpadded.empty() && unpadded.back() == '=') {
    unpadded.pop_back();
  }
  const std::string raw = Base64Decode(key);
  // A cephx key is base64 of type (2), creation time (8), length (2) and the 16-byte secret.
  const std::string secret = raw.size() >= 16 ? raw.substr(raw.size() - 16) : raw;
  return {{label + " key", key},
          {label + " key without padding", unpadded},
          {label + " key base64", Base64Encode(key)},
          {label + " key+newline base64", Base64Encode(key + "\n")},
          {label + " secret bytes", secret}};
}

class SecretsTest : public ::testing::Test {
 protected:
  void Seen(const std::string& what, const std::string& text) { outputs_[what] += text + "\n"; }

  // Where any needle occurs: in a file under `root` or in an output collected by Seen.
  std::vector<std::string> Leaks(const std::string& root,
                                 const std::vector<std::pair<std::string, std::string>>& needles) {
    std::vector<std::string> found;
    size_t files = 0;
    for (const auto& entry :
         fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied)) {
      if (!entry.is_regular_file(ec_) || entry.is_symlink(ec_)) {
        continue;
      }
      ++files;
      const std::string text = ReadFileIfExists(entry.path().string()).value_or("");
      for (const auto& [label, needle] : needles) {
        if (text.find(needle) != std::string::npos) {
          found.push_back(label + " in file " + entry.path().string());
        }
      }
    }
    EXPECT_GT(files, 5u) << "the scan found hardly any files under " << root;
    for (const auto& [what, text] : outputs_) {
      for (const auto& [label, needle] : needles) {
        if (text.find(needle) != std::string::npos) {
          found.push_back(label + " in " + what);
        }
      }
    }
    return found;
  }

  std::map<std::string, std::string> outputs_;
  std::error_code ec_;
};

TEST_F(SecretsTest, KeyIsInNoLogErrorReplyOrFile) {
  Node node("sec-node");
  const std::string base = node.base();
  const auto& rbd = node.config().backends.at("rbd").settings;
  const std::string user = rbd.at("user").get<std::string>();
  const std::string key = KeyOf(rbd.at("keyring").get<std::string>());
  ASSERT_FALSE(key.empty()) << "no key in the lab's keyring";
  std::string wrong = key;
  wrong[key.size() - 6] = wrong[key.size() - 6] == 'A' ? 'B' : 'A';

  // berthd, the Docker front door, logging at debug.
  const std::string socket = base + "/berthd.sock";
  auto berthd = std::make_unique<BerthdProcess>(BERTH_BERTHD_PATH, node.config_path(), socket,
                                                base + "/berthd.log", "debug");
  const std::string docker_volume = UniqueName("sec-docker");
  const std::string mount_body =
      nlohmann::json{{"Name", docker_volume}, {"ID", std::string(64, 'a')}}.dump();
  PluginClient client(socket);
  auto call = [&](const std::string& endpoint, const std::string& body) {
    auto reply = client.Call("VolumeDriver." + endpoint, body);
    Seen("berthd " + endpoint + " reply", reply.body);
    return reply;
  };
  ASSERT_TRUE(
      call("Create", nlohmann::json{{"Name", docker_volume}, {"Opts", {{"size", "64M"}}}}.dump())
          .Ok());
  Defer docker_cleanup(
      [&] { CleanUpVolume(socket, node.config_path(), docker_volume, {std::string(64, 'a')}); });
  EXPECT_TRUE(call("Mount", mount_body).Ok());
  EXPECT_TRUE(call("Get", NameBody(docker_volume)).Ok());  // docker volume inspect
  EXPECT_TRUE(call("List", "{}").Ok());
  EXPECT_TRUE(call("Path", NameBody(docker_volume)).Ok());
  // Errors: a busy volume, a spec conflict, an unknown option, a missing volume.
  EXPECT_FALSE(call("Remove", NameBody(docker_volume)).Err().empty());
  EXPECT_FALSE(
      call("Create", nlohmann::json{{"Name", docker_volume}, {"Opts", {{"size", "128M"}}}}.dump())
          .Err()
          .empty());
  EXPECT_FALSE(
      call("Create", nlohmann::json{{"Name", docker_volume}, {"Opts", {{"key", key}}}}.dump())
          .Err()
          .empty());
  EXPECT_FALSE(call("Mount", nlohmann::json{{"Name", UniqueName("missing")}, {"ID", "x"}}.dump())
                   .Err()
                   .empty());

  // berthctl as an operator runs it, and once with a keyring holding a wrong key.
  auto berthctl = [&](const std::string& config, std::vector<std::string> args) {
    args.insert(args.begin(), {BERTH_BERTHCTL_PATH, "--config", config});
    auto result = RunCommand(args, std::chrono::minutes(2));
    Seen("berthctl " + JoinCommand(args), result.out + result.err);
    return result;
  };
  EXPECT_EQ(berthctl(node.config_path(), {"volume", "ls"}).exit_code, 0);
  EXPECT_EQ(berthctl(node.config_path(), {"--json", "volume", "inspect", docker_volume}).exit_code,
            0);
  EXPECT_EQ(berthctl(node.config_path(), {"lock", "ls", docker_volume}).exit_code, 0);
  berthctl(node.config_path(), {"health"});
  EXPECT_NE(berthctl(node.config_path(), {"volume", "create", "Bad/Name"}).exit_code, 0);
  {
    const std::string keyring = base + "/wrong.keyring";
    WriteFileAtomically(keyring, "[client." + user + "]\n\tkey = " + wrong + "\n");
    auto doc = nlohmann::json::parse(ReadFileIfExists(node.config_path()).value());
    doc["backends"]["rbd"]["keyring"] = keyring;
    doc["backends"]["rbd"]["op_timeout_seconds"] = 10;
    const std::string wrong_config = base + "/wrong-key.json";
    WriteFileAtomically(wrong_config, doc.dump());
    auto refused = berthctl(wrong_config, {"volume", "inspect", docker_volume});
    EXPECT_NE(refused.exit_code, 0) << "a wrong key is refused";
    ::unlink(keyring.c_str());  // the wrong key is written here by the test itself
  }

  EXPECT_TRUE(call("Unmount", mount_body).Ok());

  // berth-flex with the key only in the pod's secret, as kubelet passes it: a wrong key first.
  const std::string flex_volume = UniqueName("sec-flex");
  const std::string pv = "pv-" + flex_volume;
  std::map<std::string, std::string> options = {{"kubernetes.io/fsType", "ext4"},
                                                {"kubernetes.io/readwrite", "rw"},
                                                {"kubernetes.io/pvOrVolumeName", pv},
                                                {"image", flex_volume},
                                                {"size", "64Mi"},
                                                {"create", "true"},
                                                {"user", user}};
  auto with_key = [&](const std::string& k) {
    auto o = options;
    o["kubernetes.io/secret/key"] = Base64Encode(k);
    o["kubernetes.io/pod.name"] = "pod-1";
    return Options(o);
  };
  auto flex = [&](const std::vector<std::string>& args) {
    auto reply = node.Rbd(args);
    Seen("berth-flex " + args.front() + " reply", reply.json.dump());
    return reply;
  };
  const std::string dir = node.PodDir("pod-1", pv);
  Defer flex_cleanup([&] {
    node.Rbd({"unmount", dir});
    node.Rbd({"detach", pv, node.host_id()});
    CleanUpVolume(socket, node.config_path(), flex_volume, {});
  });
  ASSERT_EQ(flex({"attach", Options(options), node.host_id()}).status(), "Success");
  ASSERT_EQ(flex({"waitforattach", "berth:" + flex_volume, Options(options)}).status(), "Success");
  MakeDirectories(dir, 0750);
  auto refused = flex({"mount", dir, with_key(wrong)});
  EXPECT_EQ(refused.status(), "Failure");
  EXPECT_FALSE(IsMounted(dir));
  // A Secret holding the keyring file instead of the key (issue 14): refused before librados,
  // which would print the value it cannot decode to berth-flex's stderr, its log.
  auto keyring_secret =
      flex({"mount", dir, with_key("[client." + user + "]\n\tkey = " + key + "\n")});
  EXPECT_EQ(keyring_secret.status(), "Failure");
  EXPECT_NE(keyring_secret.message().find("looks like a keyring file"), std::string::npos)
      << keyring_secret.message();
  EXPECT_FALSE(IsMounted(dir));
  auto mounted = flex({"mount", dir, with_key(key)});
  EXPECT_EQ(mounted.status(), "Success") << mounted.message();
  EXPECT_TRUE(IsMounted(dir));
  EXPECT_EQ(flex({"unmount", dir}).status(), "Success");
  EXPECT_EQ(flex({"detach", pv, node.host_id()}).status(), "Success");
  EXPECT_TRUE(call("Remove", NameBody(flex_volume)).Ok());
  EXPECT_TRUE(call("Remove", NameBody(docker_volume)).Ok());

  EXPECT_TRUE(berthd->Stop());
  EXPECT_FALSE(IsMounted(dir));

  // The logs did record the work (so finding nothing in them means something).
  const std::string berthd_log = ReadFileIfExists(base + "/berthd.log").value_or("");
  EXPECT_NE(berthd_log.find(docker_volume), std::string::npos);
  EXPECT_NE(ReadFileIfExists(node.log_path()).value_or("").find(flex_volume), std::string::npos);

  auto needles = Needles("the", key);
  auto wrong_needles = Needles("the wrong", wrong);
  needles.insert(needles.end(), wrong_needles.begin(), wrong_needles.end());
  for (const auto& leak : Leaks(base, needles)) {
    ADD_FAILURE() << leak;
  }
  // The temporary key files of the secret flow are gone.
  for (const auto& entry :
       fs::recursive_directory_iterator(base, fs::directory_options::skip_permission_denied)) {
    EXPECT_EQ(entry.path().filename().string().rfind(".key.", 0), std::string::npos)
        << "key file left behind: " << entry.path();
  }
}

}  // namespace
}  // namespace berth::testing
