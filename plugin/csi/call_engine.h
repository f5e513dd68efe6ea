// The engine one CSI call runs on: berth-csi's shared engine, or, when the call carries a cephx
// identity in its secrets, an engine of its own that authenticates as that identity.
#pragma once

#include <google/protobuf/map.h>

#include <memory>
#include <string>

#include "engine/engine.h"
#include "plugin/csi/secrets.h"

namespace berth::csi {

class CallEngine {
 public:
  CallEngine(engine::Engine& shared, const google::protobuf::Map<std::string, std::string>& secrets)
      : engine_(&shared) {
    auto credentials = CredentialsOf(secrets, shared.config());
    if (!credentials.empty()) {
      owned_ = std::make_unique<engine::Engine>(shared.config(), credentials);
      engine_ = owned_.get();
    }
  }
  engine::Engine* operator->() const { return engine_; }
  engine::Engine& operator*() const { return *engine_; }

 private:
  std::unique_ptr<engine::Engine> owned_;
  engine::Engine* engine_;
};

}  // namespace berth::csi
