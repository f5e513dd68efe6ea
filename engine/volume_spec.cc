#include "engine/volume_spec.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "common/error.h"
#include "common/strings.h"
#include "engine/volume_options.h"
#include "fsutil/mkfs.h"
#include "fsutil/mount.h"

namespace berth::engine {

namespace {

bool ParseBool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "1" || value == "yes") {
    return true;
  }
  if (value == "false" || value == "0" || value == "no" || value.empty()) {
    return false;
  }
  throw InvalidArgument("option " + key + "='" + value + "' is not a boolean; use true or false");
}

std::string OctalMode(int mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode) & 07777U);
  return buf;
}

}  // namespace

void ValidateVolumeMountOptions(const std::string& mount_options) {
  if (mount_options.empty()) {
    return;
  }
  const auto items = Split(mount_options, ',');
  fsutil::ParseMountOptions(items);  // empty items, binds and remounts
  for (const auto& item : items) {
    if (item == "suid") {
      throw InvalidArgument(
          "mount option 'suid' is not allowed in mount_options; volumes are mounted "
          "nosuid unless created with the option suid=true");
    }
    if (item == "dev") {
      throw InvalidArgument(
          "mount option 'dev' is not allowed: volumes are always mounted nodev, so a "
          "container cannot reach host devices through device files on a volume");
    }
  }
}

void ValidateVolumeName(const std::string& name) {
  const std::string allowed =
      "names are 1-128 characters of letters, digits, '_', '.' and '-', starting with a "
      "letter or digit";
  // Messages end up in C strings and logs: control characters (NUL among them) are shown
  // as '?'.
  std::string shown = name;
  for (auto& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = '?';
    }
  }
  if (name.empty()) {
    throw InvalidArgument("volume name is empty; " + allowed);
  }
  if (name.size() > 128) {
    throw InvalidArgument("volume name is " + std::to_string(name.size()) + " characters long; " +
                          allowed);
  }
  if (!std::isalnum(static_cast<unsigned char>(name.front()))) {
    throw InvalidArgument("volume name '" + shown + "' must start with a letter or digit; " +
                          allowed);
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      // A lone byte of a multi-byte UTF-8 character is not valid UTF-8 on its own, and the
      // message ends up in JSON responses: name only printable ASCII characters.
      const bool printable =
          static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
      throw InvalidArgument("volume name '" + shown + "' contains " +
                            (printable ? "'" + std::string(1, c) + "'"
                                       : std::string("a non-ASCII or control character")) +
                            "; " + allowed);
    }
  }
  if (name.find("..") != std::string::npos) {
    throw InvalidArgument("volume name '" + shown + "' contains '..'; " + allowed);
  }
}

uint64_t ParseSize(const std::string& text) {
  const std::string hint = "; use a positive size up to 1P such as 512M, 10G or 1.5T";
  std::string s = Trim(text);
  if (!s.empty() && s.front() == '-') {
    throw InvalidArgument("size '" + text + "' is negative" + hint);
  }
  size_t pos = 0;
  while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '.')) {
    ++pos;
  }
  const std::string number = s.substr(0, pos);
  std::string unit = s.substr(pos);
  if (number.empty() || number.front() == '.' || number.back() == '.' ||
      std::count(number.begin(), number.end(), '.') > 1) {
    throw InvalidArgument("size '" + text + "' is not a number" + hint);
  }
  for (auto& c : unit) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  // "Mi", "MiB" and "MB" mean "M"; the bytes unit takes no suffix ("BB" and "BiB" are junk).
  if (!unit.empty() && unit.front() != 'B') {
    const bool suffixed = (unit.size() == 3 && unit.substr(1) == "IB") ||
                          (unit.size() == 2 && (unit[1] == 'I' || unit[1] == 'B'));
    if (suffixed) {
      unit = unit.substr(0, 1);
    }
  }
  static const std::map<std::string, int> shifts = {{"", 20},  {"B", 0},  {"K", 10}, {"M", 20},
                                                    {"G", 30}, {"T", 40}, {"P", 50}};
  auto it = shifts.find(unit);
  if (it == shifts.end()) {
    throw InvalidArgument("size '" + text + "' has an unknown unit" + hint);
  }
  long double value = 0;
  try {
    value = std::stold(number) * std::ldexp(1.0L, it->second);
  } catch (const std::out_of_range&) {
    // Only digits and one inner '.' remain: stold failed by overflow or by underflow.
    const bool huge = number.find_first_not_of('0') < number.find('.');
    throw InvalidArgument("size '" + text + (huge ? "' is over 1 PiB" : "' is zero") + hint);
  }
  if (value < 1.0L) {
    throw InvalidArgument("size '" + text + "' is zero" + hint);
  }
  if (value > static_cast<long double>(kMaxVolumeBytes)) {
    throw InvalidArgument("size '" + text + "' is over 1 PiB" + hint);
  }
  return static_cast<uint64_t>(value);
}

std::string FormatSize(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (value == std::floor(value)) {
    std::snprintf(buf, sizeof(buf), "%.0f %s", value, units[unit]);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f %s", value, units[unit]);
  }
  return buf;
}

void ValidateFilesystemSize(const VolumeSpec& spec) {
  if (spec.fstype == "xfs" && spec.size_bytes < kMinXfsBytes) {
    throw InvalidArgument(
        "fstype xfs needs a size of at least 300M (mkfs.xfs refuses smaller "
        "filesystems); asked for " +
        FormatSize(spec.size_bytes));
  }
}

const std::vector<std::string>& KnownOptions() {
  static const std::vector<std::string> options = {
      "backend", "size", "fstype", "mkfs_options", "mount_options", "read_only",
      "suid",    "pool", "image",  "features",     "object_size",   "subdir",
      "uid",     "gid",  "mode",   "on_remove",    "volume_mode"};
  return options;
}

void RefuseRawBlock(const VolumeSpec& spec, const std::string& what) {
  if (spec.block) {
    throw InvalidArgument("volume " + spec.name + " is a raw block volume (volume_mode=block): " +
                          "berth never formats or mounts it, so it cannot " + what +
                          "; hand it to its user as a block device (a CSI Block volume)");
  }
}

VolumeSpec ParseVolumeSpec(const std::string& name, const Options& options, const Config& config) {
  ValidateVolumeName(name);
  for (const auto& [key, value] : options) {
    if (std::find(KnownOptions().begin(), KnownOptions().end(), key) == KnownOptions().end()) {
      std::string known;
      for (const auto& k : KnownOptions()) {
        known += (known.empty() ? "" : ", ") + k;
      }
      throw InvalidArgument("unknown option '" + key + "'; known options: " + known);
    }
  }
  auto get = [&](const std::string& key) { return OptionValue(options, key); };

  VolumeSpec spec;
  spec.name = name;
  spec.backend = get("backend").value_or(config.default_backend);
  auto backend = config.backends.find(spec.backend);
  if (backend == config.backends.end()) {
    std::string known;
    for (const auto& [n, b] : config.backends) {
      known += (known.empty() ? "" : ", ") + n;
    }
    throw InvalidArgument("unknown backend '" + spec.backend + "'; configured backends: " + known);
  }
  const VolumeOptionRules& type = OptionRulesOf(backend->second);
  if (auto size = get("size")) {
    spec.size_bytes = ParseSize(*size);
  } else if (backend->second.settings.contains("default_size")) {
    spec.size_bytes = ParseSize(StringSetting(backend->second, "default_size", "10G"));
  }
  spec.fstype = get("fstype").value_or(StringSetting(backend->second, "default_fstype", "ext4"));
  if (type.block_device && !fsutil::IsSupportedFilesystem(spec.fstype)) {
    throw InvalidArgument("fstype '" + spec.fstype + "' is not supported; use ext4 or xfs");
  }
  ValidateFilesystemSize(spec);

  spec.mkfs_options = get("mkfs_options").value_or("");
  fsutil::MkfsCommand(spec.fstype, "/dev/null", SplitWords(spec.mkfs_options));  // validates
  spec.mount_options = get("mount_options").value_or("");
  ValidateVolumeMountOptions(spec.mount_options);
  spec.read_only = ParseBool("read_only", get("read_only").value_or("false"));
  spec.suid = ParseBool("suid", get("suid").value_or("false"));
  const std::string volume_mode = get("volume_mode").value_or("filesystem");
  if (volume_mode != "filesystem" && volume_mode != "block") {
    throw InvalidArgument("volume_mode '" + volume_mode + "' is not filesystem or block");
  }
  spec.block = volume_mode == "block";
  if (spec.block && !type.block_device) {
    throw InvalidArgument(
        "volume_mode=block needs a backend that gives a block device (rbd); "
        "backend '" +
        spec.backend + "' is " + type.type);
  }
  type.parse(spec, options, backend->second);
  return spec;
}

std::vector<std::string> SpecDifferences(const VolumeSpec& existing, const Options& options,
                                         const VolumeSpec& requested) {
  std::vector<std::string> diffs;
  auto differ = [&](const std::string& key, const std::string& have, const std::string& want) {
    if (options.contains(key) && have != want) {
      diffs.push_back(key + " is " + (have.empty() ? "unset" : have) + ", not " +
                      (want.empty() ? "unset" : want));
    }
  };
  // Sizes are compared in bytes: FormatSize rounds (1025M and 1026M both print "1.00 GiB").
  auto differ_size = [&](const std::string& key, uint64_t have, uint64_t want) {
    if (options.contains(key) && have != want) {
      std::string have_text = FormatSize(have);
      std::string want_text = FormatSize(want);
      if (have_text == want_text) {
        have_text = std::to_string(have) + " bytes";
        want_text = std::to_string(want) + " bytes";
      }
      diffs.push_back(key + " is " + have_text + ", not " + want_text);
    }
  };
  differ("backend", existing.backend, requested.backend);
  differ_size("size", existing.size_bytes, requested.size_bytes);
  differ("fstype", existing.fstype, requested.fstype);
  differ("mkfs_options", existing.mkfs_options, requested.mkfs_options);
  differ("mount_options", existing.mount_options, requested.mount_options);
  differ("read_only", existing.read_only ? "true" : "false",
         requested.read_only ? "true" : "false");
  differ("suid", existing.suid ? "true" : "false", requested.suid ? "true" : "false");
  differ("volume_mode", existing.block ? "block" : "filesystem",
         requested.block ? "block" : "filesystem");
  differ("pool", existing.pool, requested.pool);
  differ("image", existing.image, requested.image);
  differ("features", existing.features, requested.features);
  differ_size("object_size", existing.object_size, requested.object_size);
  differ("subdir", existing.subdir, requested.subdir);
  differ("uid", std::to_string(existing.uid), std::to_string(requested.uid));
  differ("gid", std::to_string(existing.gid), std::to_string(requested.gid));
  differ("mode", OctalMode(existing.mode), OctalMode(requested.mode));
  differ("on_remove", existing.on_remove, requested.on_remove);
  return diffs;
}

nlohmann::json SpecToJson(const VolumeSpec& spec) {
  return {{"name", spec.name},
          {"backend", spec.backend},
          {"size_bytes", spec.size_bytes},
          {"fstype", spec.fstype},
          {"mkfs_options", spec.mkfs_options},
          {"mount_options", spec.mount_options},
          {"read_only", spec.read_only},
          {"suid", spec.suid},
          {"volume_mode", spec.block ? "block" : "filesystem"},
          {"pool", spec.pool},
          {"image", spec.image},
          {"adopted", spec.adopted},
          {"features", spec.features},
          {"object_size", spec.object_size},
          {"subdir", spec.subdir},
          {"uid", spec.uid},
          {"gid", spec.gid},
          {"mode", spec.mode},
          {"on_remove", spec.on_remove}};
}

VolumeSpec SpecFromJson(const nlohmann::json& json) {
  VolumeSpec spec;
  spec.name = json.at("name").get<std::string>();
  spec.backend = json.at("backend").get<std::string>();
  spec.size_bytes = json.at("size_bytes").get<uint64_t>();
  spec.fstype = json.at("fstype").get<std::string>();
  spec.mkfs_options = json.value("mkfs_options", "");
  spec.mount_options = json.value("mount_options", "");
  spec.read_only = json.value("read_only", false);
  spec.suid = json.value("suid", false);
  spec.block = json.value("volume_mode", "filesystem") == "block";
  spec.pool = json.value("pool", "");
  spec.image = json.value("image", "");
  spec.adopted = json.value("adopted", false);
  spec.features = json.value("features", "");
  spec.object_size = json.value("object_size", 4 * kMiB);
  spec.subdir = json.value("subdir", "");
  spec.uid = json.value("uid", 0);
  spec.gid = json.value("gid", 0);
  spec.mode = json.value("mode", 0755);
  spec.on_remove = json.value("on_remove", "archive");
  return spec;
}

}  // namespace berth::engine
