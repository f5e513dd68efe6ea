// berth's configuration file: backends, paths and this host's identity.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "common/config_path.h"

namespace berth::engine {

struct BackendConfig {
  std::string name;         // key under "backends"
  std::string type;         // "rbd" (and "nfs")
  nlohmann::json settings;  // the whole object, parsed by the backend
};

// berthd's optional Prometheus endpoint: off unless `listen` or `socket` is set.
struct MetricsConfig {
  std::string listen;         // TCP HOST:PORT (common/listen_address.h); loopback unless...
  bool allow_remote = false;  // ...this is set: /metrics has no authentication
  std::string socket;         // or a unix socket path
  bool enabled() const { return !listen.empty() || !socket.empty(); }
};

// Checks `metrics` as ParseConfig does (one of listen or socket, a loopback address unless
// allow_remote); for berthd's --metrics-listen, which overrides the file.
void ValidateMetricsConfig(const MetricsConfig& metrics);

struct Config {
  std::string host_id;
  std::string state_dir = "/var/lib/berth";
  std::string mount_root = "/var/lib/berth/mounts";
  std::string socket = "/run/docker/plugins/berth.sock";
  std::string default_backend;
  std::string log_level = "info";
  // How long a request waits for a volume that another one is working on (a mount's fsck, a
  // takeover grace, a rollback) before it is refused as busy, naming that work: well inside
  // Docker's 2-minute timeout, and never on a worker that other volumes need.
  int busy_wait_seconds = 45;
  // How long berthd keeps a volume mounted, synced and locked after its last Docker unmount, so
  // that a container restarted on this host reattaches at no cost; another host that needs the
  // volume asks for it and gets it at once (docs/operations.md, "Linger"). 0 turns it off.
  int linger_seconds = 30;
  std::map<std::string, BackendConfig> backends;
  MetricsConfig metrics;
};

// A host id names files and RADOS objects (mount records, host registrations, lock cookies): 1 to
// 253 (a DNS name's most) letters, digits, '.', '_' or '-', not starting with '.'.
// kInvalidArgument otherwise, saying what is allowed.
void ValidateHostId(const std::string& host_id);

// A warning when `host_id` is an example from berth's docs ("node-1"), which a config copied to
// several hosts would share; empty otherwise. Every host needs its own host id.
std::string ExampleHostIdWarning(const std::string& host_id);

// --config PATH, else $BERTH_CONFIG, else /etc/berth/berth.json (common/config_path.h).
using ::berth::ResolveConfigPath;

// Parses and validates; unknown keys, a missing backend or a bad default are kInvalidArgument.
// A missing host_id is read from /etc/machine-id.
Config ParseConfig(const std::string& text);
Config LoadConfig(const std::string& path);

}  // namespace berth::engine
