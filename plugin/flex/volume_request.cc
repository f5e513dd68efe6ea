#include "plugin/flex/volume_request.h"

#include <boost/beast/core/detail/base64.hpp>

#include <algorithm>
#include <charconv>
#include <set>

#include "backends/rbd/keyfile.h"
#include "common/error.h"
#include "common/strings.h"

namespace berth::flex {

namespace {

constexpr std::string_view kKubePrefix = "kubernetes.io/";
constexpr std::string_view kSecretPrefix = "kubernetes.io/secret/";

Error Invalid(const std::string& message) { return Error(ErrorCode::kInvalidArgument, message); }

const std::set<std::string>& AllowedKeys(DriverKind driver) {
  static const std::set<std::string> rbd = {
      "volume", "create",       "backend",       "pool",     "image",       "size",
      "fstype", "mkfs_options", "mount_options", "features", "object_size", "user"};
  static const std::set<std::string> nfs = {"volume", "create", "backend", "subdir",
                                            "uid",    "gid",    "mode",    "on_remove"};
  return BackendType(driver) == "rbd" ? rbd : nfs;
}

unsigned ParseGroup(const std::string& text) {
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    throw Invalid("fsGroup '" + text + "' must be a group id (a whole number)");
  }
  return value;
}

}  // namespace

std::string DecodeBase64(const std::string& text) {
  namespace b64 = boost::beast::detail::base64;
  std::string trimmed = Trim(text);
  size_t padding = 0;
  while (!trimmed.empty() && trimmed.back() == '=') {
    trimmed.pop_back();
    ++padding;
  }
  const bool alphabet_only = std::all_of(trimmed.begin(), trimmed.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  });
  // Padding, if any, completes the last quantum: "Zg==" or "Zm8=", not "Zg=" or "Zm9v=".
  const bool bad_padding = padding > 0 && (padding > 2 || (trimmed.size() + padding) % 4 != 0);
  if (!alphabet_only || trimmed.size() % 4 == 1 || bad_padding) {
    throw Invalid("not valid base64");
  }
  std::string out(b64::decoded_size(trimmed.size()) + 3, '\0');
  const auto [written, read] = b64::decode(out.data(), trimmed.data(), trimmed.size());
  if (read != trimmed.size()) {
    throw Invalid("not valid base64");
  }
  out.resize(written);
  return out;
}

VolumeRequest ParseVolumeRequest(DriverKind driver, const FlexOptions& options) {
  VolumeRequest request;
  const auto& allowed = AllowedKeys(driver);
  std::string fstype;
  std::string secret_user;
  for (const auto& [key, value] : options) {
    if (key.starts_with(kSecretPrefix)) {
      const std::string name = key.substr(kSecretPrefix.size());
      std::string decoded;
      try {
        decoded = DecodeBase64(value);
      } catch (const Error&) {
        throw Invalid("secret value '" + name + "' is not valid base64 (kubelet passes each " +
                      "Secret data value base64-encoded)");
      }
      if (name == "key" || name == "userKey") {
        request.key = Trim(decoded);
        rbd::ValidateCephxKey(request.key);
      } else if (name == "user" || name == "userID") {
        secret_user = Trim(decoded);
      }
      continue;  // other secret keys are not berth's
    }
    if (key.starts_with(kKubePrefix)) {
      const std::string name = key.substr(kKubePrefix.size());
      if (name == "fsType") {
        fstype = value;
      } else if (name == "readwrite") {
        if (value != "ro" && value != "rw" && !value.empty()) {
          throw Invalid("kubernetes.io/readwrite is '" + value + "'; expected ro or rw");
        }
        request.read_only = value == "ro";
      } else if (name == "pvOrVolumeName") {
        request.alias = value;
      } else if (name == "mounterArgs.FsGroup" || name == "fsGroup") {
        request.fs_group = ParseGroup(value);
      }
      continue;  // pod.name, pod.uid, serviceAccount.name, ...: kubelet's, not for berth
    }
    if (!allowed.contains(key)) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      throw Invalid("unknown option '" + key + "' for the berth/" +
                    std::string(DriverName(driver)) + " driver; allowed: " + Join(names, ", ") +
                    " and kubernetes.io/* keys");
    }
    if (key == "volume" || key == "user") {
      (key == "volume" ? request.name : request.user) = value;
    } else if (key == "image") {
      request.image = value;
    } else if (key == "create") {
      if (value != "true" && value != "false") {
        throw Invalid("option create is '" + value + "'; expected \"true\" or \"false\"");
      }
      request.create = value == "true";
    } else {
      request.create_options[key] = value;
    }
  }
  // NFS volumes have no filesystem of their own: the spec's fsType means nothing to them.
  if (BackendType(driver) == "rbd" && !fstype.empty() &&
      !request.create_options.contains("fstype")) {
    request.create_options["fstype"] = fstype;
  }
  if (auto it = request.create_options.find("size"); it != request.create_options.end()) {
    engine::ParseSize(it->second);  // a bad size fails every call, not only the creating one
  }
  if (request.name.empty()) {
    request.name = !request.image.empty() ? request.image : request.alias;
  }
  if (request.name.empty()) {
    throw Invalid(
        "no volume named: set option volume (or image), or let kubelet pass "
        "kubernetes.io/pvOrVolumeName");
  }
  engine::ValidateVolumeName(request.name);
  if (!request.image.empty()) {
    request.create_options["image"] = request.image;  // named: berth may adopt it
  }
  // The user is the volume's option: attach, waitforattach and unmount get no secret, and must
  // know without one that the volume is a tenant's. A secret may repeat it, not change it.
  if (!secret_user.empty() && request.user.empty()) {
    throw Invalid("the secret names cephx user " + secret_user +
                  " (userID), but the volume's options name none: set option user: " + secret_user +
                  " too, since kubelet passes the secret to mount only");
  }
  if (!secret_user.empty() && secret_user != request.user) {
    throw Invalid("the secret's cephx user " + secret_user + " (userID) differs from option user " +
                  request.user + "; make them the same");
  }
  if (!request.key.empty() && request.user.empty()) {
    throw Invalid("the secret holds a key but the volume names no cephx user: set option user");
  }
  return request;
}

}  // namespace berth::flex
