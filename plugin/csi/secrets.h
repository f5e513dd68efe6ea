// The cephx identity a CSI call carries in its secrets, under ceph-csi's key names (userID,
// userKey). Values never reach a log, a reply, a file (but a mapper's 0600 key file while it
// starts) or an error message.
#pragma once

#include <google/protobuf/map.h>

#include <string>

#include "engine/config.h"
#include "engine/engine.h"

namespace berth::csi {

// The identity for every rbd backend of `config`, or no override when the secrets are empty.
// kInvalidArgument, naming only the key, when userID or userKey is missing or the key is not a
// cephx key; other secret keys are not berth's and are ignored.
engine::CredentialOverrides CredentialsOf(
    const google::protobuf::Map<std::string, std::string>& secrets, const engine::Config& config);

}  // namespace berth::csi
