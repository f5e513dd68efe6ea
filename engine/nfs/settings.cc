// The nfs backend's settings from the config, validated.
#include "engine/nfs/nfs_backend.h"

#include <set>

#include "backends/nfs/mounters/mounter.h"
#include "common/error.h"
#include "engine/volume_options.h"

namespace berth::engine {

NfsSettings ParseNfsSettings(const BackendConfig& config) {
  static const std::set<std::string> known = {
      "type",          "server",     "export",       "nfs_port",
      "mount_port",    "version",    "mounter",      "on_remove",
      "mount_options", "timeout_ms", "default_size", "registry_cache_seconds"};
  const auto& s = config.settings;
  for (const auto& [key, value] : s.items()) {
    if (!known.contains(key)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown key '" + key + "' in nfs backend '" + config.name +
                      "'; allowed: server, export, nfs_port, mount_port, version, mounter, "
                      "on_remove, mount_options, timeout_ms, default_size, registry_cache_seconds");
    }
  }
  NfsSettings settings;
  try {
    settings.server = s.at("server").get<std::string>();
    settings.export_path = s.value("export", settings.export_path);
    settings.nfs_port = s.value("nfs_port", settings.nfs_port);
    settings.mount_port = s.value("mount_port", settings.mount_port);
    settings.version = s.value("version", settings.version);
    settings.mounter = s.value("mounter", settings.mounter);
    settings.mount_options = s.value("mount_options", "");
    settings.timeout_ms = s.value("timeout_ms", settings.timeout_ms);
    settings.registry_cache_seconds =
        s.value("registry_cache_seconds", settings.registry_cache_seconds);
  } catch (const nlohmann::json::exception& e) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "nfs backend '" + config.name + "' needs \"server\" and well-typed settings: " + e.what());
  }
  auto invalid = [&](const std::string& what) {
    return Error(ErrorCode::kInvalidArgument, "nfs backend '" + config.name + "': " + what);
  };
  if (settings.server.empty()) {
    throw invalid("server is empty; name the NFS server's address or host name");
  }
  if (settings.nfs_port < 1 || settings.nfs_port > 65535) {
    throw invalid("nfs_port must be a port from 1 to 65535");
  }
  if (settings.mount_port < 0 || settings.mount_port > 65535) {
    throw invalid("mount_port must be a port from 1 to 65535, or 0 to ask the portmapper");
  }
  if (settings.export_path.empty() || settings.export_path.front() != '/' ||
      settings.export_path.find("..") != std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument,
                "nfs backend '" + config.name + "': export must be an absolute path");
  }
  try {
    ValidateNfsMountOptions(settings.mount_options);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument,
                "nfs backend '" + config.name + "': setting mount_options: " + e.what());
  }
  if (settings.version != 3 && settings.version != 4) {
    throw Error(ErrorCode::kInvalidArgument,
                "nfs backend '" + config.name + "': version must be 3 or 4");
  }
  if (settings.timeout_ms < 100 || settings.timeout_ms > 110000) {
    // Docker gives a Mount 2 minutes: a timeout past that would turn into its error, not ours.
    throw Error(ErrorCode::kInvalidArgument,
                "nfs backend '" + config.name + "': timeout_ms must be 100-110000");
  }
  if (settings.registry_cache_seconds < 0 || settings.registry_cache_seconds > 60) {
    throw invalid("registry_cache_seconds must be a number of seconds from 0 (off) to 60");
  }
  nfs::MakeNfsMounter(settings.mounter == "auto" ? "kernel" : settings.mounter);  // validates
  return settings;
}

}  // namespace berth::engine
