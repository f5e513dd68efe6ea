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
    case EROFS:
      return ErrorCode::kConflict;
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ENOTCONN:
    case ESHUTDOWN:
    case EACCES:
    case EPERM:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kInternal;
  }
}

Error ErrnoError(int negative_errno, const std::string& what) {
  const int err = std::abs(negative_errno);
  return Error(CodeForErrno(err), what + ": " + std::strerror(err), err);
}

}  // namespace berth
