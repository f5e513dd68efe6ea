// The rbd backend's settings from the config, validated.
#include "engine/rbd/rbd_backend.h"

#include <set>

#include "backends/rbd/mappers/mapper.h"
#include "common/error.h"

namespace berth::engine {

namespace {

// The integer settings and their allowed ranges.
struct IntegerKey {
  const char* key;
  int64_t min;
  int64_t max;
  const char* what;
};
constexpr IntegerKey kIntegerKeys[] = {
    {"op_timeout_seconds", 1, 3600, "a number of seconds from 1 to 3600"},
    {"takeover_grace_seconds", 1, 3600, "a number of seconds from 1 to 3600"},
    {"fence_seconds", 60, 10LL * 365 * 24 * 3600, "a number of seconds from 60 to 315360000"},
    {"registry_cache_seconds", 0, 60, "a number of seconds from 0 (off) to 60"},
};

}  // namespace

RbdSettings ParseRbdSettings(const BackendConfig& config) {
  static const std::set<std::string> known = {"type",           "conf",
                                              "user",           "keyring",
                                              "pool",           "mapper",
                                              "features",       "default_size",
                                              "default_fstype", "op_timeout_seconds",
                                              "takeover",       "takeover_grace_seconds",
                                              "fence_seconds",  "registry_cache_seconds"};
  for (const auto& [key, value] : config.settings.items()) {
    if (!known.contains(key)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown key '" + key + "' in rbd backend '" + config.name +
                      "'; allowed: conf, user, keyring, pool, mapper, features, default_size, "
                      "default_fstype, op_timeout_seconds, takeover, takeover_grace_seconds, "
                      "fence_seconds, registry_cache_seconds");
    }
    // Checked here so a wrong JSON type is a config error, not a json::type_error later.
    std::string expected = "a string";
    bool ok = value.is_string();
    if (key == "takeover") {
      expected = "true or false";
      ok = value.is_boolean();
    }
    for (const auto& k : kIntegerKeys) {
      if (key == k.key) {
        expected = k.what;
        ok = value.is_number_integer() && value.get<int64_t>() >= k.min &&
             value.get<int64_t>() <= k.max;
      }
    }
    if (!ok) {
      throw Error(ErrorCode::kInvalidArgument,
                  "key '" + key + "' in rbd backend '" + config.name + "' must be " + expected);
    }
  }
  RbdSettings settings;
  settings.conf = config.settings.value("conf", "/etc/ceph/ceph.conf");
  settings.user = config.settings.value("user", settings.user);
  settings.keyring = config.settings.value("keyring", "");
  settings.pool = config.settings.value("pool", settings.pool);
  settings.mapper = config.settings.value("mapper", settings.mapper);
  settings.op_timeout_seconds = config.settings.value("op_timeout_seconds", 30);
  settings.takeover = config.settings.value("takeover", settings.takeover);
  settings.takeover_grace_seconds =
      config.settings.value("takeover_grace_seconds", settings.takeover_grace_seconds);
  settings.fence_seconds = config.settings.value("fence_seconds", settings.fence_seconds);
  settings.registry_cache_seconds =
      config.settings.value("registry_cache_seconds", settings.registry_cache_seconds);
  rbd::MakeMapper(settings.mapper == "auto" ? "krbd" : settings.mapper);  // validates the name
  auto invalid = [&](const std::string& what) {
    return Error(ErrorCode::kInvalidArgument, "rbd backend '" + config.name + "': " + what);
  };
  for (const auto& [key, path] :
       {std::pair{"conf", settings.conf}, {"keyring", settings.keyring}}) {
    if (!path.empty() && !path.starts_with('/')) {
      throw invalid(std::string(key) + " must be an absolute path, not '" + path + "'");
    }
  }
  // librados takes the id and adds "client." itself: "client.admin" would log in as
  // client.client.admin, and fail only once berthd first talks to the cluster.
  if (settings.user.starts_with("client.")) {
    throw invalid("user is the Ceph id without \"client.\" (\"" + settings.user.substr(7) +
                  "\", not \"" + settings.user + "\")");
  }
  return settings;
}

}  // namespace berth::engine
