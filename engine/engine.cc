// The engine facade: backends made from the config, the paths of a volume on this host, and
// the helpers every concern shares. Each concern has its own file (see engine/CMakeLists.txt).
#include "engine/engine.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>

#include "common/error.h"
#include "common/files.h"
#include "engine/backend_types.h"
#include "engine/instance_id.h"
#include "engine/volume_spec.h"

namespace berth::engine {

std::map<std::string, std::unique_ptr<Backend>> MakeBackends(
    const Config& config, const CredentialOverrides& credentials) {
  ValidateBackends(config);  // a refused config writes nothing, not even the instance id
  for (const auto& [name, given] : credentials) {
    if (!config.backends.contains(name)) {
      throw Error(ErrorCode::kInvalidArgument, "credentials for unknown backend '" + name + "'");
    }
  }
  std::map<std::string, std::unique_ptr<Backend>> backends;
  HostIdentity host{config.host_id, ""};
  for (const auto& [name, backend] : config.backends) {
    if (host.instance_id.empty()) {
      host.instance_id = LoadOrCreateInstanceId(config.state_dir);
    }
    const auto given = credentials.find(name);
    backends[name] =
        TypeOf(backend).make(backend, host, given == credentials.end() ? nullptr : &given->second);
  }
  return backends;
}

void ValidateBackends(const Config& config) {
  for (const auto& [name, backend] : config.backends) {
    TypeOf(backend).check_settings(backend);
    // The volume defaults a backend sets (default_size, default_fstype, features, pool,
    // on_remove) pass the checks every create applies, or no create could ever succeed.
    try {
      ParseVolumeSpec("config-check", {{"backend", name}}, config);
    } catch (const Error& e) {
      throw Error(
          ErrorCode::kInvalidArgument,
          "backend '" + name + "': a volume with its defaults would be refused: " + e.what());
    }
  }
}

namespace {

// state_dir and mount_root as real paths, created if missing. Mountinfo shows real paths: with
// a symlink in either, berth's own live mounts would look gone, and the next Mount would tear
// down the mount a container is using. mount_root is 0700: only root walks to the volumes'
// data on the host; containers reach it through their own bind mounts.
Config WithRealPaths(Config config) {
  MakeDirectories(config.state_dir, 0700);
  MakeDirectories(config.mount_root, 0700);
  config.state_dir = RealPath(config.state_dir);
  config.mount_root = RealPath(config.mount_root);
  struct stat st {};
  if (::stat(config.mount_root.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    if (::chmod(config.mount_root.c_str(), 0700) != 0) {
      throw ErrnoError(-errno, "cannot make mount_root " + config.mount_root + " private (0700)");
    }
  }
  return config;
}

}  // namespace

Engine::Engine(const Config& config, const CredentialOverrides& credentials)
    : Engine(config, MakeBackends(config, credentials), MakeSystemHost()) {}

Engine::Engine(Config config, std::map<std::string, std::unique_ptr<Backend>> backends,
               std::unique_ptr<Host> host)
    : config_(WithRealPaths(std::move(config))),
      backends_(std::move(backends)),
      host_(std::move(host)),
      states_(config_.state_dir) {
  // Left by a process killed while an attach was starting (a mapper's key file, for one).
  for (auto& [name, backend] : backends_) {
    backend->SweepAttachDir(config_.state_dir + "/attach");
  }
}

void Engine::set_detach_executor(Executor executor) {
  detach_executor_ = std::move(executor);
  for (auto& [name, backend] : backends_) {
    backend->set_background_executor(detach_executor_);
  }
}

Backend& Engine::BackendFor(const std::string& backend_name) {
  auto it = backends_.find(backend_name);
  if (it == backends_.end()) {
    throw Error(ErrorCode::kInvalidArgument, "unknown backend '" + backend_name + "'");
  }
  return *it->second;
}

std::string Engine::MountPath(const std::string& name) const {
  return config_.mount_root + "/" + name;
}

std::string Engine::WorkDir(const std::string& name) const {
  return config_.state_dir + "/attach/" + name;
}

std::optional<std::string> Engine::FindState(
    const std::function<bool(const HostVolumeState&)>& matches) const {
  for (const auto& name : states_.Names()) {
    try {
      if (auto state = states_.Load(name); state && matches(*state)) {
        return name;
      }
    } catch (const Error& e) {
      spdlog::warn("skipping host state of {}: {}", name, e.what());
    }
  }
  return std::nullopt;
}

std::map<std::string, uint64_t> Engine::FencedClientsReplaced() const {
  std::map<std::string, uint64_t> counts;
  for (const auto& [name, backend] : backends_) {
    auto* locks = backend->locks();
    counts[name] = locks ? locks->FencedClientsReplaced() : 0;
  }
  return counts;
}

}  // namespace berth::engine
