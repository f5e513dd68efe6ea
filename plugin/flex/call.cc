#include "plugin/flex/call.h"

#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <string_view>

#include "common/error.h"

namespace berth::flex {

namespace {

struct VerbShape {
  std::string_view verb;
  std::string_view usage;  // the arguments after the verb
  size_t arg_count;
};

constexpr std::array<VerbShape, 12> kVerbs{{
    {"init", "", 0},
    {"getvolumename", "<json options>", 1},
    {"attach", "<json options> <node name>", 2},
    {"isattached", "<json options> <node name>", 2},
    {"waitforattach", "<device> <json options>", 2},
    {"mountdevice", "<device mount path> <device> <json options>", 3},
    {"mount", "<target path> <json options>", 2},
    {"unmount", "<target path>", 1},
    {"unmountdevice", "<device mount path>", 1},
    {"detach", "<volume name> <node name>", 2},
    {"expandvolume", "<json options> <device mount path> <new size> <old size>", 4},
    {"expandfs", "<json options> <device path> <device mount path> <new size> <old size>", 5},
}};

const VerbShape* FindVerb(const std::string& verb) {
  for (const auto& shape : kVerbs) {
    if (shape.verb == verb) {
      return &shape;
    }
  }
  return nullptr;
}

std::string AbsolutePath(const std::string& what, const std::string& path) {
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument, what + " '" + path + "' must be an absolute path");
  }
  // kubelet's paths are normalized; a '..' would move a mount (and the reference recorded
  // for it) somewhere other than the path kubelet later unmounts.
  for (size_t start = 1; start <= path.size();) {
    size_t end = path.find('/', start);
    end = end == std::string::npos ? path.size() : end;
    const std::string_view part(path.data() + start, end - start);
    if (part == "." || part == "..") {
      throw Error(ErrorCode::kInvalidArgument,
                  what + " '" + path + "' must be an absolute path without '.' or '..' components");
    }
    start = end + 1;
  }
  return path;
}

uint64_t Bytes(const std::string& what, const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    throw Error(ErrorCode::kInvalidArgument,
                what + " '" + text + "' must be a whole number of bytes");
  }
  return value;
}

}  // namespace

bool IsKnownVerb(const std::string& verb) { return FindVerb(verb) != nullptr; }

FlexOptions ParseOptions(const std::string& json) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() quotes the text it last read, which may be a secret: give the offset only.
    throw Error(ErrorCode::kInvalidArgument,
                "the options are not valid JSON (parse error at byte " + std::to_string(e.byte) +
                    "); kubelet passes one JSON object of strings");
  } catch (const nlohmann::json::out_of_range&) {
    throw Error(ErrorCode::kInvalidArgument,
                "the options hold a number too large for a double (such as 1e999); kubelet "
                "passes one JSON object of strings");
  }
  if (!doc.is_object()) {
    throw Error(ErrorCode::kInvalidArgument, "the options must be a JSON object of strings, not " +
                                                 std::string(doc.type_name()));
  }
  FlexOptions options;
  for (const auto& [key, value] : doc.items()) {
    if (!value.is_string()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "option '" + key + "' must be a string, not " + std::string(value.type_name()));
    }
    options[key] = value.get<std::string>();
  }
  return options;
}

FlexCall ParseCall(const std::vector<std::string>& args) {
  if (args.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "no command given; kubelet calls init, attach, waitforattach, mountdevice, "
                "mount, unmount, unmountdevice, detach, expandvolume, expandfs, ...");
  }
  FlexCall call;
  call.verb = args[0];
  const VerbShape* shape = FindVerb(call.verb);
  if (shape == nullptr) {
    throw Error(ErrorCode::kNotFound, "command '" + call.verb + "' is not supported");
  }
  const std::vector<std::string> a(args.begin() + 1, args.end());
  if (a.size() != shape->arg_count) {
    throw Error(ErrorCode::kInvalidArgument,
                call.verb + " takes " + std::to_string(shape->arg_count) + " argument(s), got " +
                    std::to_string(a.size()) + "; usage: " + call.verb +
                    (shape->usage.empty() ? "" : " ") + std::string(shape->usage));
  }
  const std::string& v = call.verb;
  if (v == "getvolumename") {
    call.options = ParseOptions(a[0]);
  } else if (v == "attach" || v == "isattached") {
    call.options = ParseOptions(a[0]);
    call.node_name = a[1];
  } else if (v == "waitforattach") {
    call.device = a[0];
    call.options = ParseOptions(a[1]);
  } else if (v == "mountdevice") {
    call.device_mount_path = AbsolutePath("device mount path", a[0]);
    call.device = a[1];
    call.options = ParseOptions(a[2]);
  } else if (v == "mount") {
    call.target_path = AbsolutePath("target path", a[0]);
    call.options = ParseOptions(a[1]);
  } else if (v == "unmount") {
    call.target_path = AbsolutePath("target path", a[0]);
  } else if (v == "unmountdevice") {
    call.device_mount_path = AbsolutePath("device mount path", a[0]);
  } else if (v == "detach") {
    if (a[0].empty()) {
      throw Error(ErrorCode::kInvalidArgument, "detach needs the volume name kubelet attached");
    }
    call.volume_name = a[0];
    call.node_name = a[1];
  } else if (v == "expandvolume") {
    call.options = ParseOptions(a[0]);
    call.device_mount_path = a[1];
    call.new_size = Bytes("new size", a[2]);
    call.old_size = Bytes("old size", a[3]);
  } else if (v == "expandfs") {
    call.options = ParseOptions(a[0]);
    call.device = a[1];
    call.device_mount_path = AbsolutePath("device mount path", a[2]);
    call.new_size = Bytes("new size", a[3]);
    call.old_size = Bytes("old size", a[4]);
  }
  return call;
}

}  // namespace berth::flex
