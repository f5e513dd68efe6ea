// Engine::Health: what `berthctl health` reports and, with --fix, cleans up.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>
#include <set>

#include "common/error.h"
#include "engine/engine.h"
#include "engine/volume_lock.h"
#include "fsutil/loop_device.h"
#include "fsutil/mountinfo.h"

namespace berth::engine {

namespace {

bool Under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// The loop devices whose backing file lies under `dir`.
std::vector<std::pair<std::string, std::string>> LoopsBackedUnder(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> loops;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block", ec)) {
    const std::string name = entry.path().filename();
    if (!name.starts_with("loop")) {
      continue;
    }
    try {
      if (auto backing = fsutil::LoopBackingFile("/dev/" + name); backing && Under(*backing, dir)) {
        loops.emplace_back("/dev/" + name, *backing);
      }
    } catch (const Error&) {
      // not a loop device after all (loop-control), or it went away
    }
  }
  return loops;
}

}  // namespace

std::map<std::string, Engine::BackendCheck> Engine::CheckBackends() {
  std::map<std::string, BackendCheck> checks;
  for (auto& [name, backend] : backends_) {
    try {
      checks[name] = {true, std::to_string(backend->List().size()) + " volume(s) in its registry"};
    } catch (const std::exception& e) {
      checks[name] = {false, e.what()};
    }
  }
  return checks;
}

std::vector<Engine::HealthCheck> Engine::Health(bool fix) {
  std::vector<HealthCheck> checks;
  for (const auto& [name, backend] : CheckBackends()) {
    checks.push_back({"backend " + name, backend.ok, backend.detail, false});
  }
  std::set<std::string> tools_seen;  // two backends of one type share their host's tools
  for (auto& [name, backend] : backends_) {
    for (const auto& tool : backend->HostTools()) {
      if (tools_seen.insert(tool.kind + " " + tool.name).second) {
        checks.push_back({tool.kind + " " + tool.name, true,
                          tool.available ? "available" : "not on this host", false});
      }
    }
  }

  // This host's state files against what is really mounted and mapped.
  std::set<std::string> known_mounts;
  std::set<std::string> known_work_dirs;
  for (const auto& name : states_.Names()) {
    HealthCheck c{"volume " + name, true, "", false};
    try {
      VolumeLock lock(config_.state_dir, name, "health check", BusyWait());
      auto state = states_.Load(name);
      if (!state) {
        continue;
      }
      known_work_dirs.insert(WorkDir(name));
      // Recorded before anything can fail, so a volume's own mounts are never orphans.
      known_mounts.insert(MountPath(name));
      if (!state->mount_path.empty()) {
        known_mounts.insert(state->mount_path);
      }
      int live_refs = 0;
      for (const auto& [ref, count] : state->refs) {
        if (ref.starts_with("/") && host_->IsMountPoint(ref)) {
          known_mounts.insert(ref);  // a pod directory bind-mounted from the volume
          ++live_refs;
        }
      }
      auto found = Find(name);
      const LiveFacts live = found ? Observe(*found->second, *state) : LiveFacts{};
      const Condition condition = Classify(*state, live);
      if (!found) {
        c.ok = false;
        c.detail = "state file for a volume missing from the registry";
      } else if (condition == Condition::kUnfinishedAttach) {
        c.ok = false;
        c.detail = "an attach that did not finish (its process died)";
      } else if (condition == Condition::kHealthy && state->phase == Phase::kLingering) {
        c.detail = "mounted at " + state->mount_path + ", lingering unused (linger_seconds)";
      } else if (condition == Condition::kDetachPending ||
                 (state->TotalRefs() == 0 && !state->staged)) {
        c.ok = false;
        c.detail = "attached without any reference (a detach left behind)";
      } else if (condition != Condition::kHealthy) {
        c.ok = false;
        c.detail = std::string(live.mounted ? "mounted at " + state->mount_path : "not mounted") +
                   ", mapping " + (live.attachment_alive ? "alive" : "gone") + ", " +
                   std::to_string(state->TotalRefs()) + " reference(s)";
      } else {
        c.detail = (state->mount_path.empty() ? "attached" : "mounted at " + state->mount_path) +
                   std::string(", ") + std::to_string(state->TotalRefs()) + " reference(s)";
      }
      if (!c.ok && fix && found && live_refs > 0) {
        c.detail += "; left alone: pod directories are still mounted from it";
      } else if (!c.ok && fix && found) {
        // TearDown unmounts first: a filesystem still in use refuses (EBUSY) and stays.
        TearDown(*found->second, found->first, *state);
        c.fixed = true;
        known_mounts.erase(state->mount_path);
      }
    } catch (const std::exception& e) {
      c.ok = false;
      c.detail += (c.detail.empty() ? "" : "; ") + std::string("cleanup failed: ") + e.what();
    }
    checks.push_back(c);
  }

  // Mounts under berth's directories that no state file knows.
  const std::string attach_root = config_.state_dir + "/attach";
  for (const auto& entry : host_->MountInfo()) {
    const std::string& path = entry.mount_point;
    const bool ours = Under(path, config_.mount_root) || Under(path, attach_root);
    if (!ours || known_mounts.contains(path)) {
      continue;
    }
    bool fuse_of_known_volume = false;
    for (const auto& dir : known_work_dirs) {
      fuse_of_known_volume = fuse_of_known_volume || Under(path, dir);
    }
    if (fuse_of_known_volume) {
      continue;
    }
    HealthCheck c{"orphan mount " + path, false, entry.fstype + " from " + entry.source, false};
    if (fix) {
      try {
        // A Mount that began after the state pass owns mount_root/<name>: re-check under its
        // lock, and leave the path if a state file appeared.
        const std::string volume = std::filesystem::path(path).filename().string();
        std::optional<VolumeLock> lock;
        if (Under(path, config_.mount_root)) {
          ValidateVolumeName(volume);
          lock.emplace(config_.state_dir, volume, "health check", BusyWait());
          if (states_.Load(volume)) {
            throw Error(ErrorCode::kBusy, "volume " + volume + " is being mounted");
          }
        }
        // The loop devices serving from a FUSE mapper mount go first, if nothing mounts them.
        for (const auto& [loop, backing] : LoopsBackedUnder(path)) {
          if (!fsutil::FindMountsOfSource(host_->MountInfo(), loop).empty()) {
            throw Error(ErrorCode::kBusy, loop + " (backed by " + backing + ") is mounted");
          }
          fsutil::DetachLoop(loop);
        }
        host_->Unmount(path);
        c.fixed = true;
      } catch (const std::exception& e) {
        c.detail += std::string("; left alone: ") + e.what();
      }
    }
    checks.push_back(c);
  }
  return checks;
}

}  // namespace berth::engine
