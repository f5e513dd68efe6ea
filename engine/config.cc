#include "engine/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/listen_address.h"
#include "common/log.h"
#include "common/strings.h"

namespace berth::engine {

namespace {

void RejectUnknownKeys(const nlohmann::json& object, const std::set<std::string>& known,
                       const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (!known.contains(key)) {
      std::string allowed;
      for (const auto& k : known) {
        allowed += (allowed.empty() ? "" : ", ") + k;
      }
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown key '" + key + "' in " + where + "; allowed: " + allowed);
    }
  }
}

std::string StringField(const nlohmann::json& object, const std::string& key,
                        const std::string& fallback) {
  if (!object.contains(key)) {
    return fallback;
  }
  if (!object[key].is_string()) {
    throw Error(ErrorCode::kInvalidArgument, "config key '" + key + "' must be a string");
  }
  return object[key].get<std::string>();
}

// A whole number of seconds in [min, max], `why` appended to the refusal.
int WholeSecondsField(const nlohmann::json& object, const std::string& key, int fallback, int min,
                      int max, const std::string& why) {
  if (!object.contains(key)) {
    return fallback;
  }
  const auto& value = object[key];
  if (!value.is_number_integer() || value.get<int64_t>() < min || value.get<int64_t>() > max) {
    throw Error(ErrorCode::kInvalidArgument,
                "\"" + key + "\" must be a whole number of seconds from " + std::to_string(min) +
                    " to " + std::to_string(max) + why);
  }
  return static_cast<int>(value.get<int64_t>());
}

// state_dir, mount_root and socket: relative to berthd's working directory they would move
// with it (systemd starts it in /), so only absolute paths are accepted.
std::string AbsolutePathField(const nlohmann::json& object, const std::string& key,
                              const std::string& fallback) {
  std::string path = StringField(object, key, fallback);
  if (!path.starts_with('/')) {
    throw Error(ErrorCode::kInvalidArgument,
                "config key '" + key + "' must be an absolute path, not '" + path + "'");
  }
  return path;
}

// Backend names are volume options (`-o backend=NAME`) and metric labels.
void ValidateBackendName(const std::string& name) {
  const bool allowed = !name.empty() && name.size() <= 63 &&
                       std::all_of(name.begin(), name.end(), [](unsigned char c) {
                         return std::isalnum(c) || c == '_' || c == '-';
                       });
  if (!allowed) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "backend name '" + name + "' is not valid: use 1 to 63 letters, digits, '_' or '-'");
  }
}

MetricsConfig ParseMetrics(const nlohmann::json& doc) {
  if (!doc.is_object()) {
    throw Error(ErrorCode::kInvalidArgument,
                "config key 'metrics' must be an object, e.g. {\"listen\": \"127.0.0.1:9464\"}");
  }
  RejectUnknownKeys(doc, {"listen", "socket", "allow_remote"}, "the metrics config");
  MetricsConfig metrics;
  metrics.listen = StringField(doc, "listen", "");
  metrics.socket = StringField(doc, "socket", "");
  if (doc.contains("allow_remote")) {
    if (!doc["allow_remote"].is_boolean()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "config key 'allow_remote' in the metrics config must be true or false");
    }
    metrics.allow_remote = doc["allow_remote"].get<bool>();
  }
  if (!metrics.enabled()) {
    throw Error(ErrorCode::kInvalidArgument,
                "the metrics config needs \"listen\" (TCP HOST:PORT) or \"socket\" (a unix "
                "socket path); leave \"metrics\" out to serve no metrics");
  }
  ValidateMetricsConfig(metrics);
  return metrics;
}

}  // namespace

void ValidateMetricsConfig(const MetricsConfig& metrics) {
  if (!metrics.listen.empty() && !metrics.socket.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "metrics \"listen\" and \"socket\" are both set; choose one");
  }
  if (!metrics.socket.empty() && !metrics.socket.starts_with('/')) {
    throw Error(ErrorCode::kInvalidArgument,
                "metrics socket '" + metrics.socket + "' must be an absolute path");
  }
  if (metrics.listen.empty()) {
    return;
  }
  const ListenAddress address = ParseListenAddress(metrics.listen, "metrics listen address");
  if (!address.loopback && !metrics.allow_remote) {
    throw Error(ErrorCode::kInvalidArgument,
                "metrics listen address '" + metrics.listen +
                    "' is not a loopback address, and /metrics has no authentication; listen on "
                    "127.0.0.1 or [::1], or set \"allow_remote\": true in the metrics config "
                    "(berthd --metrics-allow-remote) to serve it to the network");
  }
}

std::string ExampleHostIdWarning(const std::string& host_id) {
  static const std::set<std::string> examples = {"node-1", "node-2", "node-3"};
  if (!examples.contains(host_id)) {
    return "";
  }
  return "host_id \"" + host_id +
         "\" is an example from berth's docs: every host needs its own host id (a lock held under "
         "it counts as this host's), so a berth.json copied to several hosts would let two of "
         "them write one volume. Set this host's own name, or leave host_id out to use "
         "/etc/machine-id";
}

void ValidateHostId(const std::string& host_id) {
  const bool allowed = !host_id.empty() && host_id.size() <= 253 && host_id.front() != '.' &&
                       std::all_of(host_id.begin(), host_id.end(), [](unsigned char c) {
                         return std::isalnum(c) || c == '.' || c == '_' || c == '-';
                       });
  if (!allowed) {
    throw Error(ErrorCode::kInvalidArgument,
                "host id '" + host_id +
                    "' is not valid: use 1 to 253 letters, digits, '.', '_' or '-', not starting "
                    "with '.' (a hostname or /etc/machine-id's value fits)");
  }
}

Config ParseConfig(const std::string& text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // A parse_error, or out_of_range for a number no double holds (1e999).
    throw Error(ErrorCode::kInvalidArgument, std::string("config is not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) {
    throw Error(ErrorCode::kInvalidArgument, "config must be a JSON object");
  }
  RejectUnknownKeys(doc,
                    {"host_id", "state_dir", "mount_root", "socket", "default_backend", "log_level",
                     "backends", "metrics", "busy_wait_seconds", "linger_seconds"},
                    "the config");
  Config config;
  config.host_id = StringField(doc, "host_id", "");
  config.state_dir = AbsolutePathField(doc, "state_dir", config.state_dir);
  config.mount_root = AbsolutePathField(doc, "mount_root", config.mount_root);
  config.socket = AbsolutePathField(doc, "socket", config.socket);
  config.log_level = StringField(doc, "log_level", config.log_level);
  try {
    ValidateLogLevel(config.log_level);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("config key 'log_level': ") + e.what());
  }
  config.busy_wait_seconds = WholeSecondsField(doc, "busy_wait_seconds", config.busy_wait_seconds,
                                               1, 110, " (Docker gives a request 120)");
  config.linger_seconds =
      WholeSecondsField(doc, "linger_seconds", config.linger_seconds, 0, 3600, "; 0 turns it off");
  if (doc.contains("metrics")) {
    config.metrics = ParseMetrics(doc["metrics"]);
  }
  if (config.host_id.empty()) {
    config.host_id = Trim(ReadFileIfExists("/etc/machine-id").value_or(""));
  }
  if (config.host_id.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "config has no host_id and /etc/machine-id is empty; set \"host_id\"");
  }
  ValidateHostId(config.host_id);
  if (!doc.contains("backends") || !doc["backends"].is_object() || doc["backends"].empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "config needs \"backends\": an object naming at least one backend");
  }
  for (const auto& [name, settings] : doc["backends"].items()) {
    ValidateBackendName(name);
    if (!settings.is_object() || !settings.contains("type") || !settings["type"].is_string()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "backend '" + name + "' needs a \"type\" (rbd or nfs)");
    }
    config.backends[name] = {name, settings["type"].get<std::string>(), settings};
  }
  config.default_backend = StringField(doc, "default_backend", "");
  if (config.default_backend.empty() && config.backends.size() == 1) {
    config.default_backend = config.backends.begin()->first;
  }
  if (!config.backends.contains(config.default_backend)) {
    throw Error(ErrorCode::kInvalidArgument,
                "default_backend '" + config.default_backend + "' is not one of the backends");
  }
  return config;
}

Config LoadConfig(const std::string& path) {
  auto text = ReadFileIfExists(path);
  if (!text) {
    throw Error(ErrorCode::kNotFound,
                "config file " + path + " does not exist; pass --config or set BERTH_CONFIG");
  }
  return ParseConfig(*text);
}

}  // namespace berth::engine
