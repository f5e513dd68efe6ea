// The nfs backend's volume options: subdir, uid, gid, mode, on_remove, and the mount options
// berth sets itself.
#include <algorithm>
#include <cctype>

#include "common/error.h"
#include "common/strings.h"
#include "engine/volume_options.h"

namespace berth::engine {

namespace {

int ParseId(const std::string& key, const std::string& value) {
  if (value.empty() || value.size() > 10 ||
      value.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(value) > 0x7fffffff) {
    throw InvalidArgument("option " + key + "='" + value + "' is not a numeric id (0-2147483647)");
  }
  return static_cast<int>(std::stoll(value));
}

int ParseMode(const std::string& value) {
  if (value.empty() || value.size() > 4 ||
      value.find_first_not_of("01234567") != std::string::npos) {
    throw InvalidArgument("option mode='" + value + "' is not an octal mode such as 0755 or 2775");
  }
  return std::stoi(value, nullptr, 8);
}

// A relative path of plain names: never absolute, never "..", so it cannot leave the export.
// Returned in one spelling ("./a//b/" is "a/b"), so that volumes' directories compare.
std::string NormalizeSubdir(const std::string& subdir) {
  const std::string hint = "; use a relative path of plain names such as team/uploads";
  if (subdir.empty() || subdir.size() > 1024) {
    throw InvalidArgument("subdir must be 1-1024 characters" + hint);
  }
  if (subdir.front() == '/') {
    throw InvalidArgument("subdir '" + subdir + "' is absolute" + hint);
  }
  std::vector<std::string> parts;
  for (const auto& part : Split(subdir, '/')) {
    if (part.empty() || part == ".") {
      continue;
    }
    if (part == "..") {
      throw InvalidArgument("subdir '" + subdir + "' escapes the export with '..'" + hint);
    }
    for (char c : part) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
        throw InvalidArgument("subdir '" + subdir +
                              "' contains a character other than letters, "
                              "digits, '_', '-' and '.'" +
                              hint);
      }
    }
    if (AsciiLower(part).rfind(".berth", 0) == 0) {
      throw InvalidArgument("subdir '" + subdir + "' uses the reserved name .berth");
    }
    parts.push_back(part);
  }
  if (parts.empty()) {
    throw InvalidArgument("subdir '" + subdir +
                          "' names the export itself, which holds every volume" + hint);
  }
  return Join(parts, "/");
}

}  // namespace

const std::vector<std::string>& NfsOptionsSetByBerth() {
  static const std::vector<std::string> keys = {"addr",      "port",      "vers",       "nfsvers",
                                                "proto",     "mountport", "mountproto", "mountaddr",
                                                "mountvers", "timeo"};
  return keys;
}

namespace {

// None of NfsOptionsSetByBerth: the part of ValidateNfsMountOptions that is the nfs type's own.
void RefuseOptionsSetByBerth(const std::string& mount_options) {
  if (mount_options.empty()) {
    return;
  }
  const auto& reserved = NfsOptionsSetByBerth();
  for (const auto& item : Split(mount_options, ',')) {
    const std::string key = item.substr(0, item.find('='));
    if (std::find(reserved.begin(), reserved.end(), key) != reserved.end()) {
      throw InvalidArgument("mount option '" + item +
                            "' is set by berth from the nfs backend's settings (server, nfs_port, "
                            "mount_port, version, timeout_ms) and cannot be overridden per volume; "
                            "berth sets: " +
                            Join(reserved, ", "));
    }
  }
}

}  // namespace

void ValidateNfsMountOptions(const std::string& mount_options) {
  ValidateVolumeMountOptions(mount_options);
  RefuseOptionsSetByBerth(mount_options);
}

void ParseNfsVolumeOptions(VolumeSpec& spec, const Options& options, const BackendConfig& backend) {
  auto get = [&](const std::string& key) { return OptionValue(options, key); };
  for (const char* key : {"pool", "image", "features", "object_size", "fstype", "mkfs_options"}) {
    if (options.contains(key)) {
      throw InvalidArgument(std::string("option '") + key + "' applies to rbd backends only");
    }
  }
  RefuseOptionsSetByBerth(spec.mount_options);  // ParseVolumeSpec checked the rest
  spec.fstype = "nfs";
  spec.mkfs_options.clear();
  spec.adopted = get("subdir").has_value();
  spec.subdir = NormalizeSubdir(get("subdir").value_or(spec.name));
  spec.uid = ParseId("uid", get("uid").value_or("0"));
  spec.gid = ParseId("gid", get("gid").value_or("0"));
  spec.mode = ParseMode(get("mode").value_or("0755"));
  spec.on_remove = get("on_remove").value_or(StringSetting(backend, "on_remove", "archive"));
  if (spec.on_remove != "retain" && spec.on_remove != "delete" && spec.on_remove != "archive") {
    throw InvalidArgument("on_remove '" + spec.on_remove +
                          "' is not one of retain, delete, archive");
  }
}

}  // namespace berth::engine
