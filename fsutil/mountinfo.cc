#include "fsutil/mountinfo.h"

#include <charconv>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "common/error.h"
#include "common/files.h"

namespace berth::fsutil {

namespace {

constexpr const char* kMountInfoPath = "/proc/self/mountinfo";

// The kernel escapes space, tab, newline and backslash as \ooo (fs/proc_namespace.c, mangle()).
std::string Unescape(std::string_view field) {
  const auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) &&
        is_octal(field[i + 2]) && is_octal(field[i + 3])) {
      const int value = (field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0');
      if (value < 256) {
        out += static_cast<char>(value);
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

// Single spaces only: an empty source (mount -t tmpfs "" /x) shows as two spaces in a row.
std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const auto space = line.find(' ', start);
    fields.push_back(line.substr(start, space == std::string_view::npos ? space : space - start));
    if (space == std::string_view::npos) {
      return fields;
    }
    start = space + 1;
  }
}

bool ParseInt(std::string_view text, int& value) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end && !text.empty();
}

Error Malformed(size_t line_number, std::string_view line, std::string_view why) {
  return Error(ErrorCode::kInternal, "malformed mountinfo line " + std::to_string(line_number) +
                                         " (" + std::string(why) + "): '" + std::string(line) +
                                         "'");
}

MountEntry ParseLine(std::string_view line, size_t line_number) {
  const auto fields = SplitFields(line);
  // id parent major:minor root mount_point options [optional...] - fstype source super_options
  size_t separator = 0;
  for (size_t i = 6; i < fields.size(); ++i) {
    if (fields[i] == "-") {
      separator = i;
      break;
    }
  }
  if (separator == 0) {
    throw Malformed(line_number, line, "no ' - ' separator after the sixth field");
  }
  if (fields.size() != separator + 4) {
    throw Malformed(line_number, line, "expected fstype, source and super options after ' - '");
  }
  MountEntry entry;
  if (!ParseInt(fields[0], entry.id) || !ParseInt(fields[1], entry.parent_id)) {
    throw Malformed(line_number, line, "mount ids are not numbers");
  }
  if (fields[2].find(':') == std::string_view::npos) {
    throw Malformed(line_number, line, "device number is not major:minor");
  }
  entry.device_number = fields[2];
  entry.root = Unescape(fields[3]);
  entry.mount_point = Unescape(fields[4]);
  entry.options = fields[5];
  entry.fstype = Unescape(fields[separator + 1]);
  entry.source = Unescape(fields[separator + 2]);
  entry.super_options = fields[separator + 3];
  if (entry.root.empty() || entry.mount_point.empty() || entry.fstype.empty()) {
    throw Malformed(line_number, line, "empty root, mount point or filesystem type");
  }
  return entry;
}

std::string NormalizePath(const std::string& path) {
  std::string normal = std::filesystem::path(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') {
    normal.pop_back();
  }
  return normal;
}

// Resolves symlinks (/dev/disk/by-id/...) without failing on paths that do not exist.
std::string CanonicalOrSelf(const std::string& path) {
  std::error_code ec;
  auto canonical = std::filesystem::canonical(path, ec);
  return ec ? path : canonical.string();
}

}  // namespace

std::vector<MountEntry> ParseMountInfo(const std::string& text) {
  std::vector<MountEntry> entries;
  std::string_view rest = text;
  size_t line_number = 0;
  while (!rest.empty()) {
    const auto newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      continue;
    }
    entries.push_back(ParseLine(line, line_number));
  }
  return entries;
}

std::vector<MountEntry> ReadMountInfo() {
  const auto text = ReadFileIfExists(kMountInfoPath);
  if (!text) {
    throw Error(ErrorCode::kInternal,
                std::string(kMountInfoPath) + " does not exist; is /proc mounted?");
  }
  return ParseMountInfo(*text);
}

std::optional<MountEntry> FindMount(const std::vector<MountEntry>& mounts,
                                    const std::string& mount_point) {
  const std::string wanted = NormalizePath(mount_point);
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (it->mount_point == wanted) {
      return *it;
    }
  }
  return std::nullopt;
}

std::vector<MountEntry> FindMountsOfSource(const std::vector<MountEntry>& mounts,
                                           const std::string& source) {
  const std::string canonical = CanonicalOrSelf(source);
  std::vector<MountEntry> found;
  for (const auto& entry : mounts) {
    // Only device nodes are resolved: resolving a path inside a hung FUSE or NFS mount could
    // block, and mount(2) records the source exactly as it was given.
    const bool same =
        entry.source == source || entry.source == canonical ||
        (entry.source.starts_with("/dev/") && CanonicalOrSelf(entry.source) == canonical);
    if (same) {
      found.push_back(entry);
    }
  }
  return found;
}

bool IsMountPoint(const std::string& path) {
  return !path.empty() && FindMount(ReadMountInfo(), path).has_value();
}

}  // namespace berth::fsutil
