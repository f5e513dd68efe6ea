#include "plugin/csi/operation_guard.h"

#include "plugin/csi/grpc_status.h"

namespace berth::csi {

OperationsInFlight::Guard::Guard(OperationsInFlight& owner, std::string key)
    : owner_(owner), key_(std::move(key)) {
  std::lock_guard lock(owner_.mutex_);
  if (!owner_.keys_.insert(key_).second) {
    throw StatusError(grpc::StatusCode::ABORTED,
                      "an operation on " + key_ + " is already in progress; retry when it ends");
  }
}

OperationsInFlight::Guard::~Guard() {
  std::lock_guard lock(owner_.mutex_);
  owner_.keys_.erase(key_);
}

}  // namespace berth::csi
