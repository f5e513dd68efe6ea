// The nfs backend's settings (one backend entry of the config).
#pragma once

#include <string>

#include "engine/config.h"

namespace berth::engine {

struct NfsSettings {
  std::string server;
  std::string export_path = "/";
  int nfs_port = 2049;
  int mount_port = 0;
  int version = 3;
  std::string mounter = "auto";
  std::string mount_options;  // defaults for every volume, comma-separated
  int timeout_ms = 10000;
  // How long dockerd's List and Get may answer from the registry as last read while the
  // registry directory's change stamp is unchanged (0 = read through).
  int registry_cache_seconds = 2;
};

// Reads a backend's settings; unknown keys and bad values are kInvalidArgument.
NfsSettings ParseNfsSettings(const BackendConfig& config);

}  // namespace berth::engine
