#include "common/error.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace berth {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kBusy:
      return "busy";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kUnavailable:
      return "backend unavailable";
    case ErrorCode::kPermissionDenied:
      return "permission denied";
    case ErrorCode::kDeadlineExceeded:
      return "deadline exceeded";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

std::string_view ErrorCodeLabel(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kBusy:
      return "busy";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

ErrorCode CodeForErrno(int err) {
  switch (std::abs(err)) {
    case EINVAL:
    case ENAMETOOLONG:
    case ERANGE:
      return ErrorCode::kInvalidArgument;
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return ErrorCode::kNotFound;
    case EBUSY:
    case EAGAIN:
      return ErrorCode::kBusy;
    case EEXIST:
    case ENOTEMPTY:
    // Abseil's kFailedPrecondition, which berth calls a conflict: the target is read-only (a
    // snapshot, a read-only mapping, an image whose exclusive lock another client holds).
    case EROFS:
      return ErrorCode::kConflict;
    case ECONNREFUSED:
    case ENOTCONN:
    case ESHUTDOWN:
      return ErrorCode::kUnavailable;
    case ETIMEDOUT:
      return ErrorCode::kDeadlineExceeded;
    case EACCES:
    case EPERM:
      return ErrorCode::kPermissionDenied;
    default:
      return ErrorCode::kInternal;
  }
}

Error ErrnoError(int negative_errno, const std::string& what) {
  const int err = std::abs(negative_errno);
  return Error(CodeForErrno(err), what + ": " + std::strerror(err), err);
}

}  // namespace berth
