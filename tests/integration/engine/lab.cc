#include "tests/integration/engine/lab.h"

#include <rbd/librbd.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include "backends/rbd/image.h"
#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "fsutil/loop_device.h"
#include "fsutil/mountinfo.h"

namespace berth::testing {

std::string LabDir() {
  const char* dir = std::getenv("BERTH_LAB_DIR");
  if (dir == nullptr || *dir == '\0') {
    // Failing, not skipping: a suite that silently skips its cluster tests proves nothing.
    throw std::runtime_error("BERTH_LAB_DIR is not set; run the suite through scripts/test");
  }
  return dir;
}

std::string LabNfsUrl() {
  const char* url = std::getenv("BERTH_NFS_URL");
  if (url == nullptr || *url == '\0') {
    throw std::runtime_error("BERTH_NFS_URL is not set; run the suite through scripts/test");
  }
  return url;
}

std::unique_ptr<nfs::ExportTree> LabExport() {
  return std::make_unique<nfs::ExportTree>(
      nfs::NfsContext::Connect({LabNfsUrl(), std::chrono::milliseconds(10000)}));
}

engine::Config LabConfig(const std::string& host_id) {
  auto config = engine::LoadConfig(LabDir() + "/berth.json");
  static std::atomic<int> counter{0};
  const std::string unique = ProcessToken() + "-" + std::to_string(counter++);
  const std::string base = LabDir() + "/tests/" + unique + "-" + host_id;
  // A state dir is an installation, and a host id belongs to one installation (issue 14): each
  // config is a host of its own, named `host_id` and a suffix, so messages still start with it.
  config.host_id = host_id + "-" + unique;
  config.state_dir = base + "/state";
  config.mount_root = base + "/mnt";
  MakeDirectories(config.state_dir);
  return config;
}

std::string UniqueName(const std::string& stem) {
  static std::atomic<int> counter{0};
  return stem + "-" + ProcessToken() + "-" + std::to_string(counter++);
}

LabCluster::LabCluster() {
  auto config = engine::LoadConfig(LabDir() + "/berth.json");
  const auto& rbd = config.backends.at("rbd").settings;
  pool_ = rbd.at("pool").get<std::string>();
  cluster_ = rbd::Cluster::Connect(
      {rbd.at("conf").get<std::string>(), "admin", "", std::chrono::seconds(30), ""});
}

std::vector<std::string> LabCluster::Images() { return rbd::ListImages(cluster_->OpenPool(pool_)); }

std::string LabCluster::ReadImage(const std::string& image) {
  auto io = cluster_->OpenPool(pool_);
  rbd::Image img(io, image, rbd::Image::Mode::kReadOnly);
  std::string data(img.Size(), '\0');
  constexpr size_t kChunk = 4 << 20;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    size_t len = std::min(kChunk, data.size() - off);
    ssize_t r = rbd_read(img.get(), off, len, data.data() + off);
    if (r != static_cast<ssize_t>(len)) {
      throw std::runtime_error("short read of image " + image);
    }
  }
  return data;
}

void LabCluster::WriteImage(const std::string& image, uint64_t offset, const std::string& data) {
  auto io = cluster_->OpenPool(pool_);
  rbd::Image img(io, image);
  ssize_t r = rbd_write(img.get(), offset, data.size(), data.data());
  if (r != static_cast<ssize_t>(data.size())) {
    throw std::runtime_error("short write to image " + image);
  }
  rbd_flush(img.get());
}

void LabCluster::CreateImage(const std::string& image, uint64_t size) {
  rbd::CreateImage(cluster_->OpenPool(pool_), image, size,
                   rbd::ParseFeatures(rbd::kDefaultFeatures), 22);
}

void LabCluster::RemoveImage(const std::string& image) {
  rbd::RemoveImage(cluster_->OpenPool(pool_), image, /*force=*/true);
}

namespace {

// Runs a monitor command (JSON) and returns its output; throws with the monitor's status.
std::string MonCommand(const rbd::Cluster& cluster, const nlohmann::json& command) {
  const std::string text = command.dump();
  const char* cmd[] = {text.c_str()};
  char* out = nullptr;
  size_t out_len = 0;
  char* status = nullptr;
  size_t status_len = 0;
  const int r =
      rados_mon_command(cluster.get(), cmd, 1, "", 0, &out, &out_len, &status, &status_len);
  std::string result(out != nullptr ? out : "", out_len);
  const std::string message(status != nullptr ? status : "", status_len);
  rados_buffer_free(out);
  rados_buffer_free(status);
  if (r < 0) {
    throw std::runtime_error("ceph " + text + ": " + std::to_string(r) + " " + message);
  }
  return result;
}

}  // namespace

std::vector<std::string> LabCluster::BlocklistedAddresses() {
  // Pacific answers with two arrays, one after the other: addresses, then address ranges.
  std::istringstream listed(
      MonCommand(*cluster_, {{"prefix", "osd blocklist ls"}, {"format", "json"}}));
  std::vector<std::string> out;
  while ((listed >> std::ws).peek() != std::char_traits<char>::eof()) {
    nlohmann::json entries;
    listed >> entries;
    for (const auto& entry : entries) {
      out.push_back(entry.value("addr", entry.value("range", "")));
    }
  }
  return out;
}

void LabCluster::Blocklist(const std::string& address) {
  cluster_->Blocklist(address, 3600);
  SyncOsdMap();
}

void LabCluster::SyncOsdMap() {
  if (int r = rados_wait_for_latest_osdmap(cluster_->get()); r < 0) {
    throw std::runtime_error("cannot fetch the latest OSD map: " + std::to_string(r));
  }
  const std::string data = "sync";
  const auto io = cluster_->OpenPool(pool_);
  if (int r = rados_write_full(io.get(), "berth-test.osdmap-sync", data.data(), data.size());
      r < 0) {
    throw std::runtime_error("cannot write the OSD map sync object: " + std::to_string(r));
  }
}

void LabCluster::Unblocklist(const std::string& address) {
  MonCommand(*cluster_, {{"prefix", "osd blocklist"}, {"blocklistop", "rm"}, {"addr", address}});
}

void LabCluster::CreateSnapshot(const std::string& image, const std::string& snap) {
  auto io = cluster_->OpenPool(pool_);
  rbd::Image img(io, image);
  if (int r = rbd_snap_create(img.get(), snap.c_str()); r < 0) {
    throw std::runtime_error("cannot snapshot " + image + ": " + std::to_string(r));
  }
}

void LabCluster::RemoveSnapshot(const std::string& image, const std::string& snap) {
  auto io = cluster_->OpenPool(pool_);
  rbd::Image img(io, image);
  if (int r = rbd_snap_remove(img.get(), snap.c_str()); r < 0) {
    throw std::runtime_error("cannot remove snapshot " + snap + ": " + std::to_string(r));
  }
}

std::string Sha256(const std::string& path) {
  auto result = RunCommand({"sha256sum", path});
  if (result.exit_code != 0) {
    throw std::runtime_error("sha256sum " + path + " failed: " + result.err);
  }
  return Split(result.out, ' ').front();
}

bool IsMounted(const std::string& path) {
  return fsutil::FindMount(fsutil::ReadMountInfo(), path).has_value();
}

std::vector<std::string> LoopsUnder(const std::string& dir) {
  std::vector<std::string> loops;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block")) {
    const std::string name = entry.path().filename();
    if (name.rfind("loop", 0) != 0) {
      continue;
    }
    auto backing = fsutil::LoopBackingFile("/dev/" + name);
    if (backing && backing->rfind(dir, 0) == 0) {
      loops.push_back("/dev/" + name);
    }
  }
  return loops;
}

std::vector<pid_t> RbdFuseUnder(const std::string& dir) {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const pid_t process = static_cast<pid_t>(std::stol(pid));
    const auto argv = ProcessArgv(process);  // empty if it exited meanwhile
    if (argv.empty() || argv.front().find("rbd-fuse") == std::string::npos) {
      continue;
    }
    for (const auto& arg : argv) {
      if (arg.rfind(dir + "/", 0) == 0) {
        pids.push_back(process);
        break;
      }
    }
  }
  return pids;
}

}  // namespace berth::testing

namespace berth::testing {

void RemoveIfPresent(engine::Engine& engine, const std::string& name) {
  try {
    engine.Get(name);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) {
      return;
    }
  }
  ReleaseAndRemove(engine, name);
}

void ReleaseAndRemove(engine::Engine& engine, const std::string& name) {
  try {
    auto info = engine.Get(name);
    if (info.local) {
      for (const auto& [ref, count] : info.local->refs) {
        for (int i = 0; i < count; ++i) {
          engine.Unmount(name, ref);
        }
      }
    }
    engine.Remove(name);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cleanup of volume " << name << " failed: " << e.what();
  }
}

void WriteRandomFile(const std::string& path, int mib) {
  auto result = RunCommand({"dd", "if=/dev/urandom", "of=" + path, "bs=1M",
                            "count=" + std::to_string(mib), "conv=fsync", "status=none"});
  if (result.exit_code != 0) {
    throw std::runtime_error("dd to " + path + " failed: " + result.err);
  }
}

engine::Config WithTakeover(engine::Config config, bool takeover, int grace_seconds) {
  for (auto& [name, backend] : config.backends) {
    if (backend.type == "rbd") {
      backend.settings["takeover"] = takeover;
      backend.settings["takeover_grace_seconds"] = grace_seconds;
    }
  }
  return config;
}

bool WaitUntilUnwatched(engine::Engine& engine, const std::string& name) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (engine.Locks(name).watchers.empty()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

}  // namespace berth::testing
