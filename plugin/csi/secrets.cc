#include "plugin/csi/secrets.h"

#include "backends/rbd/keyfile.h"
#include "common/error.h"
#include "common/strings.h"

namespace berth::csi {

engine::CredentialOverrides CredentialsOf(
    const google::protobuf::Map<std::string, std::string>& secrets, const engine::Config& config) {
  const auto user = secrets.find("userID");
  const auto key = secrets.find("userKey");
  if (user == secrets.end() && key == secrets.end()) {
    return {};
  }
  if (user == secrets.end() || key == secrets.end()) {
    throw InvalidArgument(
        std::string("the secret has ") +
        (user == secrets.end() ? "userKey but no userID" : "userID but no userKey") +
        "; a cephx identity needs both (ceph-csi's key names)");
  }
  engine::Credentials credentials{Trim(user->second), Trim(key->second)};
  if (credentials.user.empty()) {
    throw InvalidArgument("the secret's userID is empty");
  }
  rbd::ValidateCephxKey(credentials.key);
  engine::CredentialOverrides overrides;
  for (const auto& [name, backend] : config.backends) {
    if (backend.type == "rbd") {
      overrides[name] = credentials;
    }
  }
  return overrides;
}

}  // namespace berth::csi
