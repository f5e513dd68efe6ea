#include "plugin/csi/grpc_status.h"

#include <spdlog/spdlog.h>

namespace berth::csi {

grpc::Status StatusOf(const Error& error) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case ErrorCode::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case ErrorCode::kBusy:
    case ErrorCode::kConflict:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case ErrorCode::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case ErrorCode::kPermissionDenied:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case ErrorCode::kDeadlineExceeded:
      code = grpc::StatusCode::DEADLINE_EXCEEDED;
      break;
    case ErrorCode::kInternal:
      code = grpc::StatusCode::INTERNAL;
      break;
  }
  return {code, error.what()};
}

grpc::Status InvalidArgumentStatus(const std::string& message) {
  return {grpc::StatusCode::INVALID_ARGUMENT, message};
}

grpc::Status Serve(const std::string& what, const std::function<void()>& call) {
  try {
    call();
    return grpc::Status::OK;
  } catch (const StatusError& e) {
    spdlog::warn("{}: {}", what, e.what());
    return e.status();
  } catch (const Error& e) {
    spdlog::warn("{}: {} ({})", what, e.what(), ErrorCodeName(e.code()));
    return StatusOf(e);
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", what, e.what());
    return {grpc::StatusCode::INTERNAL, e.what()};
  }
}

}  // namespace berth::csi
