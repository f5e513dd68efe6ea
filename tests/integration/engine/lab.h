// Access to the throwaway lab that scripts/lab started ($BERTH_LAB_DIR): an engine config with
// a private state dir per test, and an admin view of the cluster to check what really happened.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/nfs/export_tree.h"
#include "backends/rbd/cluster.h"
#include "engine/config.h"
#include "tests/support/process_token.h"

namespace berth::testing {

std::string LabDir();

// The lab's berth.json as a new host: host_id is `host_id` plus a suffix unique to the call, and
// state_dir/mount_root are a fresh directory under the lab, so tests never share host state.
engine::Config LabConfig(const std::string& host_id);

// The lab's NFS export ($BERTH_NFS_URL), and a client of its own on it (no mount), as another
// host would see it.
std::string LabNfsUrl();
std::unique_ptr<nfs::ExportTree> LabExport();

// A volume name unique to this test run.
std::string UniqueName(const std::string& stem);

// Admin connection for checks (image lists, raw image bytes).
class LabCluster {
 public:
  LabCluster();
  std::vector<std::string> Images();
  std::string ReadImage(const std::string& image);  // the whole image
  void WriteImage(const std::string& image, uint64_t offset, const std::string& data);
  void CreateImage(const std::string& image, uint64_t size);
  void RemoveImage(const std::string& image);
  void CreateSnapshot(const std::string& image, const std::string& snap);
  void RemoveSnapshot(const std::string& image, const std::string& snap);
  // The cluster's blocklist (fenced client addresses), and ways to change it by hand.
  std::vector<std::string> BlocklistedAddresses();
  // Fences `address`, and returns once the OSD enforces it (SyncOsdMap).
  void Blocklist(const std::string& address);
  // Returns once the lab's OSD has the monitors' latest OSD map (a blocklist just added, say):
  // this client fetches it, then writes with it, which the OSD serves only at that map or later.
  void SyncOsdMap();
  void Unblocklist(const std::string& address);
  std::string pool() const { return pool_; }
  // The admin client itself, for writes berth would not make (a registry entry by hand).
  const std::shared_ptr<rbd::Cluster>& client() const { return cluster_; }

 private:
  std::string pool_;
  std::shared_ptr<rbd::Cluster> cluster_;
};

// sha256 of a file (sha256sum), for data round trips.
std::string Sha256(const std::string& path);

// Whether anything is mounted at `path`.
bool IsMounted(const std::string& path);

// Loop devices whose backing file lies under `dir`.
std::vector<std::string> LoopsUnder(const std::string& dir);

// rbd-fuse processes serving a mount point under `dir` (argv names it).
std::vector<pid_t> RbdFuseUnder(const std::string& dir);

}  // namespace berth::testing

#include "engine/engine.h"

namespace berth::testing {

// Drops every local reference of `name` on `engine` (unmounting and detaching it) and removes
// the volume. Used in TearDown so a failed assertion leaves nothing mounted or mapped.
void ReleaseAndRemove(engine::Engine& engine, const std::string& name);

// ReleaseAndRemove, unless `name` does not exist (a test that removes it itself got that far).
void RemoveIfPresent(engine::Engine& engine, const std::string& name);

// Calls ReleaseAndRemove when it goes out of scope, so a failing test still cleans up.
class VolumeCleanup {
 public:
  VolumeCleanup(engine::Engine& engine, std::string name)
      : engine_(engine), name_(std::move(name)) {}
  ~VolumeCleanup() { ReleaseAndRemove(engine_, name_); }
  VolumeCleanup(const VolumeCleanup&) = delete;
  VolumeCleanup& operator=(const VolumeCleanup&) = delete;

 private:
  engine::Engine& engine_;
  std::string name_;
};

// Runs its functions in reverse order when it goes out of scope, whatever the test did.
class Cleanups {
 public:
  Cleanups() = default;
  Cleanups(const Cleanups&) = delete;
  Cleanups& operator=(const Cleanups&) = delete;
  ~Cleanups() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      try {
        (*it)();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cleanup failed: " << e.what();
      }
    }
  }
  void Add(std::function<void()> step) { steps_.push_back(std::move(step)); }

 private:
  std::vector<std::function<void()>> steps_;
};

// Writes `mib` MiB of random data to `path` and syncs it.
void WriteRandomFile(const std::string& path, int mib);

// `config` with the rbd backends' automatic takeover on or off, after `grace_seconds`.
engine::Config WithTakeover(engine::Config config, bool takeover, int grace_seconds);

// Polls for up to a minute until no client watches the image of `name` (a frozen or dead
// client's watch expires after the lab's osd_client_watch_timeout, 10 s).
bool WaitUntilUnwatched(engine::Engine& engine, const std::string& name);

}  // namespace berth::testing
