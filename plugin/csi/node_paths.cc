#include "plugin/csi/node_paths.h"

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

}  // namespace berth::csi
