// berth's errors as the gRPC status codes the CSI spec asks for.
#pragma once

#include <grpcpp/grpcpp.h>

#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "common/error.h"

namespace berth::csi {

// A status a handler answers with directly (ABORTED, ALREADY_EXISTS, OUT_OF_RANGE), where
// berth's categories have no match.
class StatusError : public std::exception {
 public:
  StatusError(grpc::StatusCode code, std::string message)
      : status_(code, message), message_(std::move(message)) {}
  const grpc::Status& status() const { return status_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  grpc::Status status_;
  std::string message_;
};

// The status for an error of berth's (kConflict is FAILED_PRECONDITION here; CreateVolume
// answers its own conflicts with ALREADY_EXISTS).
grpc::Status StatusOf(const Error& error);

// INVALID_ARGUMENT with `message`.
grpc::Status InvalidArgumentStatus(const std::string& message);

// Runs `call`, answering what it throws as a status: a StatusError as it is, a berth::Error by
// its category, anything else as INTERNAL. `what` ("NodeStageVolume pvc-1") prefixes the logged
// failure.
grpc::Status Serve(const std::string& what, const std::function<void()>& call);

}  // namespace berth::csi
