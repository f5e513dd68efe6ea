// The rbd backend's settings (one backend entry of the config).
#pragma once

#include <cstdint>
#include <string>

#include "engine/config.h"

namespace berth::engine {

struct RbdSettings {
  std::string conf;
  std::string user = "admin";
  std::string keyring;
  // A key held in memory only (a FlexVolume secret): never read from or written to a file,
  // except a 0600 key file that lives while a mapper starts.
  std::string key;
  std::string pool = "rbd";  // also holds the registry object
  std::string mapper = "auto";
  int op_timeout_seconds = 30;
  // A read-write attach may take the volume over from a host whose mappers have stopped
  // watching the image for takeover_grace_seconds: it fences that host first.
  bool takeover = true;
  int takeover_grace_seconds = 30;
  // How long a fence (blocklist entry) lasts: longer than any pause of a fenced host (Ceph's
  // own default is one hour); operators lift it with `ceph osd blocklist rm` after a reboot.
  int64_t fence_seconds = 365LL * 24 * 3600;
  // List, Get and Path answer from the registry as last read, invalidated at once by other
  // hosts' notifies; a copy older than this is read again (a lost notify shows within it).
  // 0 reads through every time.
  int registry_cache_seconds = 2;
};

// Reads a backend's settings; unknown keys are kInvalidArgument.
RbdSettings ParseRbdSettings(const BackendConfig& config);

}  // namespace berth::engine
