#include "tests/integration/security/security.h"

#include <cstring>
#include <filesystem>

#include "common/files.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"
#include "tests/support/plugin_client.h"

namespace berth::testing {

namespace fs = std::filesystem;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_mode : 0;
}

std::set<std::string> TreeSnapshot(const std::string& root) {
  std::set<std::string> entries;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
           root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      break;
    }
    const std::string path = it->path().string();
    const auto status = it->symlink_status();
    std::string entry = path + " type=" + std::to_string(static_cast<int>(status.type()));
    if (fs::is_regular_file(status)) {
      entry += " size=" + std::to_string(fs::file_size(it->path(), ec));
    } else if (fs::is_symlink(status)) {
      entry += " -> " + fs::read_symlink(it->path(), ec).string();
    }
    entries.insert(entry);
    if (fs::is_directory(status) && IsMounted(path)) {
      it.disable_recursion_pending();
    }
  }
  return entries;
}

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string Base64Encode(const std::string& bytes) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) {
      out += kAlphabet[(n >> shift) & 63];
    }
  }
  if (i < bytes.size()) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) {
      n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    }
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string Base64Decode(const std::string& text) {
  std::string out;
  unsigned n = 0;
  int bits = 0;
  for (char c : text) {
    const char* p = c == '\0' ? nullptr : std::strchr(kAlphabet, c);
    if (p == nullptr) {
      continue;  // padding, whitespace
    }
    n = (n << 6) | static_cast<unsigned>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((n >> bits) & 0xff);
    }
  }
  return out;
}

void CleanUpVolume(const std::string& socket, const std::string& config_path,
                   const std::string& name, const std::vector<std::string>& ids) {
  if (PathExists(socket)) {  // else berthd was stopped already
    try {
      PluginClient client(socket);
      for (const auto& id : ids) {
        client.Call("VolumeDriver.Unmount", nlohmann::json{{"Name", name}, {"ID", id}}.dump());
      }
      auto reply = client.Call("VolumeDriver.Remove", NameBody(name));
      if (reply.Ok() || reply.Err().find(" does not exist") != std::string::npos) {
        return;
      }
      ADD_FAILURE() << "Remove " << name << ": " << reply.body;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup of " << name << " through berthd failed: " << e.what();
    }
  }
  engine::Engine engine(engine::LoadConfig(config_path));
  RemoveIfPresent(engine, name);
}

}  // namespace berth::testing
