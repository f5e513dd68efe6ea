// berth's one error type: a category a front door can switch on, and a message a user can act on.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace berth {

// Modelled on Abseil's canonical codes. kUnavailable is only for what may heal by itself; a
// refusal (wrong credentials or caps) is kPermissionDenied, never "unavailable".
enum class ErrorCode {
  kInvalidArgument,   // the caller asked for something malformed or disallowed
  kNotFound,          // the named volume, image or device does not exist
  kBusy,              // in use: mounted, locked, watched; retrying later may succeed
  kConflict,          // the request contradicts what exists (spec, filesystem, lock holder)
  kUnavailable,       // the backend cluster or a host tool cannot be reached (yet)
  kPermissionDenied,  // the backend or the host refused berth's credentials or capabilities
  kDeadlineExceeded,  // a step did not finish in its time limit; its outcome may be unknown
  kInternal,          // a step failed in a way the caller cannot fix
};

// Every code, for tables that must list them all (metrics pre-declare a series per code).
inline constexpr ErrorCode kAllErrorCodes[] = {
    ErrorCode::kInvalidArgument,  ErrorCode::kNotFound,    ErrorCode::kBusy,
    ErrorCode::kConflict,         ErrorCode::kUnavailable, ErrorCode::kPermissionDenied,
    ErrorCode::kDeadlineExceeded, ErrorCode::kInternal};

// Words for people ("backend unavailable").
std::string_view ErrorCodeName(ErrorCode code);
// A stable snake_case label for machines: metrics and JSON ("permission_denied").
std::string_view ErrorCodeLabel(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  // `system_errno` (positive) is the errno a C API failed with, for a caller that must tell
  // two causes of one category apart (a fenced Ceph client from an unreachable cluster).
  Error(ErrorCode code, const std::string& message, int system_errno)
      : std::runtime_error(message), code_(code), system_errno_(system_errno) {}
  ErrorCode code() const { return code_; }
  // The errno the error came from, or 0 when it did not come from one.
  int system_errno() const { return system_errno_; }

 private:
  ErrorCode code_;
  int system_errno_ = 0;
};

// Builds an error from a negative errno returned by a C API, e.g. librbd's -ENOENT. The errno
// is kept (system_errno()).
Error ErrnoError(int negative_errno, const std::string& what);

// kInvalidArgument with `message`, which says what was wrong and what is allowed.
inline Error InvalidArgument(const std::string& message) {
  return Error(ErrorCode::kInvalidArgument, message);
}

// The category that best matches an errno value (positive or negative).
ErrorCode CodeForErrno(int err);

}  // namespace berth
