// A volume's spec: what `docker volume create -o` and FlexVolume options ask for, validated.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/config.h"

namespace berth::engine {

using Options = std::map<std::string, std::string>;

inline std::optional<std::string> OptionValue(const Options& options, const std::string& key) {
  auto it = options.find(key);
  return it == options.end() ? std::nullopt : std::optional(it->second);
}

inline constexpr uint64_t kMiB = 1ULL << 20;
inline constexpr uint64_t kGiB = 1ULL << 30;
inline constexpr uint64_t kMaxVolumeBytes = 1ULL << 50;  // 1 PiB
inline constexpr uint64_t kDefaultVolumeBytes = 1 * kGiB;
inline constexpr uint64_t kMinXfsBytes = 300 * kMiB;  // mkfs.xfs 6.x refuses smaller

struct VolumeSpec {
  std::string name;
  std::string backend;
  uint64_t size_bytes = kDefaultVolumeBytes;
  std::string fstype = "ext4";
  std::string mkfs_options;   // as the user wrote them, split on whitespace when used
  std::string mount_options;  // comma-separated
  bool read_only = false;
  // Mounted without nosuid: set-user-ID binaries on the volume work. Off by default; device
  // files never work (nodev is always set).
  bool suid = false;
  // volume_mode=block: a raw block device handed to its user (CSI's Block volumes), which berth
  // never probes, formats or mounts. RBD only.
  bool block = false;
  // RBD
  std::string pool;      // where the image lives; defaults to the backend's pool
  std::string image;     // defaults to the volume name
  bool adopted = false;  // image= named an existing image: berth never deletes it
  std::string features;
  uint64_t object_size = 4 * kMiB;
  // NFS
  std::string subdir;  // the volume's directory below the export; defaults to the name
  int uid = 0;
  int gid = 0;
  int mode = 0755;
  std::string on_remove = "archive";  // retain | delete | archive
};

// Docker-compatible names: 1-128 characters from [A-Za-z0-9_.-], starting with a letter or
// digit, never "." or "..". Throws kInvalidArgument saying what is allowed.
void ValidateVolumeName(const std::string& name);

// "512M", "1G", "1.5G" (binary units B, K, M, G, T, P with optional "i"/"iB"); a bare number
// is MiB, as in `rbd create --size`. 0, negatives, junk and sizes over 1 PiB are refused.
uint64_t ParseSize(const std::string& text);
std::string FormatSize(uint64_t bytes);

// Refuses sizes the filesystem cannot be made on (xfs under 300M).
void ValidateFilesystemSize(const VolumeSpec& spec);

// Checks a volume's mount_options: what fsutil::ParseMountOptions refuses, "suid" and "dev"
// (berth always mounts nosuid unless suid=true, and always nodev). kInvalidArgument. A backend
// type refuses the options it sets itself (NfsOptionsSetByBerth).
void ValidateVolumeMountOptions(const std::string& mount_options);

// kInvalidArgument when `spec` is a raw block volume (volume_mode=block), which berth never
// probes, formats or mounts; `what` names the refused operation.
void RefuseRawBlock(const VolumeSpec& spec, const std::string& what);

// The option names a user may pass, for messages.
const std::vector<std::string>& KnownOptions();

// Builds a spec from options and the config's defaults, validating every option before
// anything is created. Unknown options, unknown backends and bad values are kInvalidArgument.
VolumeSpec ParseVolumeSpec(const std::string& name, const Options& options, const Config& config);

// The differences between an existing spec and the options of a repeated Create, as
// "size is 1 GiB, not 2 GiB". Every option the repeated Create gives is compared; options it
// did not give are not differences.
std::vector<std::string> SpecDifferences(const VolumeSpec& existing, const Options& options,
                                         const VolumeSpec& requested);

nlohmann::json SpecToJson(const VolumeSpec& spec);
VolumeSpec SpecFromJson(const nlohmann::json& json);

}  // namespace berth::engine
