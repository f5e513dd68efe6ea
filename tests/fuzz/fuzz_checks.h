// Shared by the fuzz targets: the fixed config requests are validated against, and the
// invariants every accepted value must keep. A broken invariant traps, so libFuzzer (and the
// corpus replay in the unit suite) reports it as a crash with the input that caused it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "engine/config.h"
#include "engine/volume_spec.h"

namespace berth::fuzz {

inline void Require(bool invariant) {
  if (!invariant) {
    __builtin_trap();
  }
}

// Runs a call the invariants say cannot fail: berth::Error here is a bug, not a rejection.
template <typename Call>
auto MustSucceed(Call call) {
  try {
    return call();
  } catch (const Error&) {
    __builtin_trap();
  }
}

// Two RBD backends (one with its own defaults) and one NFS backend, as on a real host, so
// `backend=...` and the per-backend defaults are all reachable.
inline const engine::Config& FixedConfig() {
  static const engine::Config config = engine::ParseConfig(R"({
    "host_id": "fuzz-host", "default_backend": "rbd",
    "backends": {
      "rbd": {"type": "rbd", "conf": "/etc/ceph/ceph.conf", "user": "berth", "pool": "rbd",
              "mapper": "auto"},
      "fast": {"type": "rbd", "pool": "ssd", "default_size": "10G", "default_fstype": "xfs",
               "features": "layering,exclusive-lock,object-map,fast-diff"},
      "nfs": {"type": "nfs", "server": "127.0.0.1", "export": "/export", "version": 3,
              "on_remove": "retain", "default_size": "1G"}}})");
  return config;
}

// What ValidateVolumeName promises: the name is safe as a path component and a C string.
inline void CheckAcceptedName(const std::string& name) {
  Require(!name.empty() && name.size() <= 128);
  Require(name.find('/') == std::string::npos);
  Require(name.find("..") == std::string::npos);
  Require(name.find('\0') == std::string::npos);
  Require(name != ".");
}

// FormatSize is for people ("1.50 GiB"); without its space, ParseSize reads it back exactly
// when it printed a whole number, and within its rounding (0.005 of a unit) otherwise.
inline void CheckSizeRoundTrip(uint64_t bytes) {
  Require(bytes >= 1 && bytes <= engine::kMaxVolumeBytes);
  std::string text = engine::FormatSize(bytes);
  std::erase(text, ' ');
  const uint64_t parsed = MustSucceed([&] { return engine::ParseSize(text); });
  if (text.find('.') == std::string::npos) {
    Require(parsed == bytes);
  } else {
    const uint64_t error = parsed > bytes ? parsed - bytes : bytes - parsed;
    Require(error <= bytes / 200);
  }
}

// What ParseVolumeSpec promises about a spec it accepted from `options` and `config`.
inline void CheckSpec(const engine::VolumeSpec& spec, const engine::Options& options,
                      const engine::Config& config = FixedConfig()) {
  CheckAcceptedName(spec.name);
  CheckSizeRoundTrip(spec.size_bytes);
  Require(config.backends.contains(spec.backend));
  Require(!options.contains("backend") || options.at("backend") == spec.backend);
  if (spec.fstype == "nfs") {
    // The subdir stays below the export.
    Require(!spec.subdir.empty() && spec.subdir.front() != '/');
    Require(("/" + spec.subdir + "/").find("/../") == std::string::npos);
  } else {
    Require(spec.fstype == "ext4" || spec.fstype == "xfs");
    Require(spec.fstype != "xfs" || spec.size_bytes >= engine::kMinXfsBytes);
  }
  // A repeated Create with the same options is no difference, and the registry's JSON form
  // reads back as the same spec.
  Require(engine::SpecDifferences(spec, options, spec).empty());
  const auto json = engine::SpecToJson(spec);
  Require(engine::SpecToJson(engine::SpecFromJson(json)) == json);
}

inline std::string AsString(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace berth::fuzz
