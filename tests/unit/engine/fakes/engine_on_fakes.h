// A fixture for the engine's rules on fakes: an Engine on a FakeHost, with an rbd-like backend
// ("rbd": block device, locks, resizer, snapshots) and an nfs-like one ("nfs": mounts itself,
// none of the optional capabilities). Each backend has its own FakeCluster, which every "host"
// a test makes (MakeNode) shares. Runs without root, Ceph or NFS: state and mount dirs are
// temporary.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "engine/host_state.h"
#include "tests/unit/engine/fakes/fake_backend.h"
#include "tests/unit/engine/fakes/fake_host.h"

namespace berth::engine::testing {

// One host: its engine, its fake kernel, and its views of the two backends.
struct FakeNode {
  std::unique_ptr<Engine> engine;
  FakeHost* host = nullptr;
  FakeBackend* rbd = nullptr;
  FakeBackend* nfs = nullptr;

  std::string MountPath(const std::string& name) const {
    return engine->config().mount_root + "/" + name;
  }
  std::optional<HostVolumeState> State(const std::string& name) const {
    return HostStateStore(engine->config().state_dir).Load(name);
  }
  void SaveState(const HostVolumeState& state) const {
    HostStateStore(engine->config().state_dir).Save(state);
  }
};

class EngineOnFakes : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-engine-fakes.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    node_ = MakeNode("host-a");
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // `adjust` changes the config before the engine is made.
  FakeNode MakeNode(const std::string& host_id,
                    const std::function<void(Config&)>& adjust = nullptr) {
    Config config;
    config.host_id = host_id;
    config.state_dir = dir_ + "/" + host_id + "/state";
    config.mount_root = dir_ + "/" + host_id + "/mounts";
    config.default_backend = "rbd";
    config.busy_wait_seconds = 1;
    config.backends["rbd"] = {"rbd", "rbd", {{"type", "rbd"}}};
    config.backends["nfs"] = {"nfs", "nfs", {{"type", "nfs"}, {"server", "127.0.0.1"}}};
    if (adjust) {
      adjust(config);
    }
    FakeNode node;
    auto host = std::make_unique<FakeHost>();
    node.host = host.get();
    auto rbd = std::make_unique<FakeBackend>(cluster_, host_id, FakeTraits{}, node.host);
    auto nfs = std::make_unique<FakeBackend>(nfs_cluster_, host_id,
                                             FakeTraits{false, false, false, false}, node.host);
    node.rbd = rbd.get();
    node.nfs = nfs.get();
    std::map<std::string, std::unique_ptr<Backend>> backends;
    backends["rbd"] = std::move(rbd);
    backends["nfs"] = std::move(nfs);
    node.engine = std::make_unique<Engine>(config, std::move(backends), std::move(host));
    return node;
  }

  Engine& engine() { return *node_.engine; }
  FakeHost& host() { return *node_.host; }
  FakeBackend& rbd() { return *node_.rbd; }
  FakeBackend& nfs() { return *node_.nfs; }
  FakeCluster& cluster() { return *cluster_; }
  std::string MountPath(const std::string& name) const { return node_.MountPath(name); }
  std::optional<HostVolumeState> State(const std::string& name) const { return node_.State(name); }
  // The volume's record as the registry holds it.
  VolumeRecord Record(const std::string& name) {
    return RecordFromString(name, cluster_->registry.at(name));
  }
  bool Locked(const std::string& name) const { return cluster_->locks.contains(name); }

  std::string dir_;
  std::shared_ptr<FakeCluster> cluster_ = std::make_shared<FakeCluster>();  // rbd's
  std::shared_ptr<FakeCluster> nfs_cluster_ = std::make_shared<FakeCluster>();
  FakeNode node_;
};

}  // namespace berth::engine::testing
