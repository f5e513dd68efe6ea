// Fuzzes the configuration file parser, then creates a volume with default options on each
// backend it accepted, as the first `docker volume create` on that host would.
// Input: the file's text.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/config.h"
#include "engine/volume_spec.h"
#include "tests/fuzz/fuzz_checks.h"

namespace berth::fuzz {
namespace {

// Every field of engine::Config, written as the file would have it.
nlohmann::json ConfigToJson(const engine::Config& config) {
  nlohmann::json backends = nlohmann::json::object();
  for (const auto& [name, backend] : config.backends) {
    backends[name] = backend.settings;
  }
  nlohmann::json doc = {{"host_id", config.host_id},
                        {"state_dir", config.state_dir},
                        {"mount_root", config.mount_root},
                        {"socket", config.socket},
                        {"log_level", config.log_level},
                        {"default_backend", config.default_backend},
                        {"backends", backends}};
  if (config.metrics.enabled()) {
    auto& metrics = doc["metrics"] = {{"allow_remote", config.metrics.allow_remote}};
    if (!config.metrics.listen.empty()) {
      metrics["listen"] = config.metrics.listen;
    }
    if (!config.metrics.socket.empty()) {
      metrics["socket"] = config.metrics.socket;
    }
  }
  return doc;
}

bool SameConfig(const engine::Config& a, const engine::Config& b) {
  if (a.host_id != b.host_id || a.state_dir != b.state_dir || a.mount_root != b.mount_root ||
      a.socket != b.socket || a.log_level != b.log_level ||
      a.default_backend != b.default_backend || a.backends.size() != b.backends.size() ||
      a.metrics.listen != b.metrics.listen || a.metrics.socket != b.metrics.socket ||
      a.metrics.allow_remote != b.metrics.allow_remote) {
    return false;
  }
  for (const auto& [name, backend] : a.backends) {
    auto other = b.backends.find(name);
    if (other == b.backends.end() || other->second.name != backend.name ||
        other->second.type != backend.type || other->second.settings != backend.settings) {
      return false;
    }
  }
  return true;
}

void CheckConfig(const std::string& text) {
  engine::Config config;
  try {
    config = engine::ParseConfig(text);
  } catch (const Error& e) {
    Require(e.code() == ErrorCode::kInvalidArgument);
    return;
  }
  Require(!config.host_id.empty());
  Require(config.backends.contains(config.default_backend));
  for (const auto& [name, backend] : config.backends) {
    Require(backend.name == name);
    Require(backend.settings.is_object() && backend.settings.value("type", "") == backend.type);
  }
  // Written back out, the config reads as the same config.
  const std::string written = ConfigToJson(config).dump();
  Require(SameConfig(config, MustSucceed([&] { return engine::ParseConfig(written); })));

  for (const auto& [name, backend] : config.backends) {
    const engine::Options options = {{"backend", name}};
    engine::VolumeSpec spec;
    try {
      spec = engine::ParseVolumeSpec("data", options, config);
    } catch (const Error& e) {
      Require(e.code() == ErrorCode::kInvalidArgument);
      continue;
    }
    CheckSpec(spec, options, config);
  }
}

}  // namespace
}  // namespace berth::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::fuzz::CheckConfig(berth::fuzz::AsString(data, size));
  return 0;
}
