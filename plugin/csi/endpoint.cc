#include "plugin/csi/endpoint.h"

#include "common/error.h"
#include "common/strings.h"

namespace berth::csi {

std::string SocketPathOf(const std::string& endpoint) {
  const std::string allowed = "; use unix:///path/to/csi.sock (an absolute path)";
  std::string path;
  if (endpoint.starts_with("unix://")) {
    path = endpoint.substr(7);
  } else if (endpoint.starts_with("unix:")) {
    path = endpoint.substr(5);
  } else {
    throw InvalidArgument("endpoint '" + Printable(endpoint) + "' is not a unix socket" + allowed);
  }
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string::npos) {
    throw InvalidArgument("endpoint '" + Printable(endpoint) + "' has no absolute path" + allowed);
  }
  if (path.size() > 107) {  // sun_path holds 108 bytes with the terminating NUL
    throw InvalidArgument("endpoint path " + path + " is longer than a unix socket allows (107)");
  }
  return path;
}

}  // namespace berth::csi
