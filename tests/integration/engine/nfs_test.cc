// NFS volumes on the lab's nfs-ganesha: directories on the export, the registry as metadata
// files, berth-nfs-fuse mounts, remove policies and refusals.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "backends/nfs/export_tree.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

engine::Options Nfs(engine::Options options = {}) {
  options["backend"] = "nfs";
  return options;
}

std::string TreeSum(const std::string& dir) {
  auto r = RunCommand({"sh", "-c",
                       "cd '" + dir +
                           "' && tar --sort=name --mtime=@0 --owner=0 "
                           "--group=0 -cf - . | sha256sum"});
  if (r.exit_code != 0) {
    throw std::runtime_error("tar of " + dir + " failed: " + r.err);
  }
  return r.out.substr(0, 64);
}

TEST(NfsTest, RoundTripKeepsEveryByteAndTheDirectoryIsOnTheExport) {
  engine::Engine engine(LabConfig("host-a"));
  const std::string name = UniqueName("nfs-rt");
  engine.Create(name, Nfs({{"size", "1G"}, {"mode", "0770"}, {"uid", "1000"}, {"gid", "1000"}}));
  VolumeCleanup cleanup(engine, name);
  EXPECT_TRUE(LabExport()->IsDirectory("/" + name)) << "the directory exists on the export";

  auto first = engine.Mount(name, "c1");
  WriteRandomFile(first.mount_path + "/big.bin", 32);
  auto r = RunCommand({"sh", "-c",
                       "mkdir -p '" + first.mount_path + "/small' && cd '" + first.mount_path +
                           "/small' && for i in $(seq 1000); do "
                           "echo \"file $i\" > f$i; done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string sum = TreeSum(first.mount_path);
  engine.Unmount(name, "c1");
  EXPECT_FALSE(IsMounted(first.mount_path));

  auto second = engine.Mount(name, "c2");
  EXPECT_EQ(TreeSum(second.mount_path), sum);
  engine.Unmount(name, "c2");

  auto info = engine.Get(name);
  EXPECT_EQ(info.record.spec.backend, "nfs");
  EXPECT_EQ(info.record.spec.size_bytes, 1ULL << 30) << "size is recorded (advisory)";
}

TEST(NfsTest, TwoHostsShareOneVolume) {
  engine::Engine host_a(LabConfig("host-a"));
  engine::Engine host_b(LabConfig("host-b"));
  const std::string name = UniqueName("nfs-shared");
  host_a.Create(name, Nfs());
  VolumeCleanup cleanup(host_a, name);
  auto a = host_a.Mount(name, "a");
  auto b = host_b.Mount(name, "b");
  WriteFileAtomically(a.mount_path + "/from-a", "a\n");
  WriteFileAtomically(b.mount_path + "/from-b", "b\n");
  EXPECT_EQ(ReadFileIfExists(b.mount_path + "/from-a").value_or(""), "a\n");
  EXPECT_EQ(ReadFileIfExists(a.mount_path + "/from-b").value_or(""), "b\n");
  host_b.Unmount(name, "b");
  host_a.Unmount(name, "a");
}

TEST(NfsTest, RemovePoliciesDoWhatTheySay) {
  engine::Engine engine(LabConfig("host-a"));
  auto tree = LabExport();
  for (const std::string policy : {"retain", "delete", "archive"}) {
    SCOPED_TRACE(policy);
    const std::string name = UniqueName("nfs-rm-" + policy);
    engine.Create(name, Nfs({{"on_remove", policy}}));
    auto m = engine.Mount(name, "c");
    WriteFileAtomically(m.mount_path + "/keep-me", "data\n");
    engine.Unmount(name, "c");
    engine.Remove(name);
    EXPECT_THROW(engine.Get(name), Error) << "unregistered";
    const bool still_there = tree->Exists("/" + name + "/keep-me");
    EXPECT_EQ(still_there, policy == "retain");
    bool archived = false;
    for (const auto& entry : tree->List("/.berth-archive")) {
      if (entry.rfind(name + "-", 0) == 0) {
        archived = tree->Exists("/.berth-archive/" + entry + "/keep-me");
      }
    }
    EXPECT_EQ(archived, policy == "archive");
    if (policy == "retain") {
      tree->RemoveTree("/" + name);
    }
  }
}

// Nothing of what this test asked for appears on the export or in the registry. Only its own
// names count: tests running beside it create volumes of their own on the same export.
TEST(NfsTest, BadInputIsRefusedAndCreatesNothing) {
  engine::Engine engine(LabConfig("host-a"));
  auto tree = LabExport();
  const auto before = tree->List("/");
  struct Case {
    std::string name;
    engine::Options options;
    std::string words;
  };
  const std::vector<Case> cases = {
      {"a..b", Nfs(), "'..'"},
      {"a/b", Nfs(), "'/'"},
      {std::string("a\0b", 3), Nfs(), "character"},
      {UniqueName("esc"), Nfs({{"subdir", "../outside"}}), "escapes"},
      {UniqueName("esc"), Nfs({{"subdir", "/etc"}}), "absolute"},
      {UniqueName("esc"), Nfs({{"subdir", "a/../../b"}}), "escapes"},
      {UniqueName("bad"), Nfs({{"mode", "999"}}), "octal"},
      {UniqueName("bad"), Nfs({{"on_remove", "shred"}}), "on_remove"},
      {UniqueName("bad"), Nfs({{"fstype", "xfs"}}), "rbd backends only"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    try {
      engine.Create(c.name, c.options);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.words), std::string::npos) << e.what();
    }
  }
  // The names, and every directory a subdir above could have made at the top of the export.
  std::set<std::string> ours = {"a", "outside", "b", "etc"};
  for (const auto& c : cases) {
    ours.insert(c.name);
  }
  for (const auto& entry : tree->List("/")) {
    if (std::find(before.begin(), before.end(), entry) == before.end()) {
      EXPECT_EQ(ours.count(entry), 0U) << entry << " was created on the export";
    }
  }
  for (const auto& volume : engine.List()) {
    EXPECT_EQ(ours.count(volume.record.spec.name), 0U)
        << volume.record.spec.name << " was registered";
  }
}

// A backend config pointing elsewhere: an unknown server, a missing export, a server that
// accepts connections and never answers.
engine::Config WithNfsBackend(nlohmann::json settings) {
  auto config = LabConfig("host-a");
  settings["type"] = "nfs";
  config.backends["nfs"] = {"nfs", "nfs", settings};
  return config;
}

TEST(NfsTest, UnreachableServersAndMissingExportsFailCleanly) {
  auto lab = LabConfig("host-a").backends.at("nfs").settings;
  {
    engine::Engine engine(WithNfsBackend({{"server", "no-such-host.invalid"}}));
    const std::string name = UniqueName("nfs-unknown");
    EXPECT_THROW(engine.Create(name, Nfs()), Error);
  }
  {
    auto settings = lab;
    settings["export"] = "/no-such-export";
    engine::Engine engine(WithNfsBackend(settings));
    try {
      engine.Create(UniqueName("nfs-noexport"), Nfs());
      ADD_FAILURE() << "a missing export must be refused";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
      EXPECT_NE(std::string(e.what()).find("no-such-export"), std::string::npos) << e.what();
    }
  }
  {
    // Accepts TCP connections, never answers an RPC.
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(listener.get(), 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    const int port = ntohs(addr.sin_port);
    engine::Engine engine(WithNfsBackend({{"server", "127.0.0.1"},
                                          {"export", "/export"},
                                          {"nfs_port", port},
                                          {"mount_port", port},
                                          {"timeout_ms", 2000}}));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(engine.Create(UniqueName("nfs-silent"), Nfs()), Error);
    const auto took = std::chrono::steady_clock::now() - start;
    // The bound is Docker's: a Create longer than 2 minutes fails in dockerd, not in berth.
    EXPECT_LT(took, std::chrono::minutes(2));
    RecordProperty(
        "silent_server_failure_ms",
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  }
}

}  // namespace
}  // namespace berth::testing
