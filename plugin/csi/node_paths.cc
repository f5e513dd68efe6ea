#include "plugin/csi/node_paths.h"

#include <sys/stat.h>

#include <filesystem>

#include "common/error.h"

namespace berth::csi {

void CheckNodePath(const std::string& path, const std::string& root, const std::string& field) {
  const std::string allowed = "; it must be an absolute path below " + root;
  if (path.empty()) {
    throw InvalidArgument(field + " is missing" + allowed);
  }
  if (path.front() != '/' || path.back() == '/') {
    throw InvalidArgument(field + " '" + path + "' is not a normal absolute path" + allowed);
  }
  for (size_t start = 1; start <= path.size();) {
    size_t end = path.find('/', start);
    end = end == std::string::npos ? path.size() : end;
    const std::string_view part(path.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") {
      throw InvalidArgument(field + " '" + path + "' has an empty, '.' or '..' component" +
                            allowed);
    }
    start = end + 1;
  }
  const std::string prefix = root.ends_with('/') ? root : root + "/";
  if (!path.starts_with(prefix) || path.size() == prefix.size()) {
    throw InvalidArgument(field + " '" + path + "' is outside " + root +
                          ", the only directory berth-csi mounts in (--path-root)");
  }
}

void RefuseSymlinks(const std::string& path, const std::string& root, const std::string& field) {
  for (size_t slash = root.size(); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, path.find('/', slash + 1));
    struct stat st {};
    if (::lstat(prefix.c_str(), &st) != 0) {
      return;  // the rest is made by the mount, as directories
    }
    if (S_ISLNK(st.st_mode)) {
      throw InvalidArgument(field + " '" + path + "' goes through the symbolic link " + prefix +
                            "; berth-csi mounts only on real paths below " + root);
    }
  }
}

void ValidatePathRoot(const std::string& root) {
  if (root == "/" || root.empty() || root.front() != '/') {
    throw InvalidArgument("--path-root '" + root + "' must be an absolute directory other than /");
  }
  CheckNodePath(root, "/", "--path-root");
  std::error_code error;
  const auto real = std::filesystem::canonical(root, error);
  if (!error && real.string() != root) {
    throw InvalidArgument("--path-root '" + root + "' goes through a symbolic link (it is " +
                          real.string() + "); give the real path");
  }
}

}  // namespace berth::csi
