// berth's one error type: a category a front door can switch on, and a message a user can act on.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace berth {

enum class ErrorCode {
  kInvalidArgument,  // the caller asked for something malformed or disallowed
  kNotFound,         // the named volume, image or device does not exist
  kBusy,             // in use: mounted, locked, watched; retrying later may succeed
  kConflict,         // the request contradicts what exists (spec, filesystem, lock holder)
  kUnavailable,      // the backend cluster or a host tool cannot be reached
  kInternal,         // a step failed in a way the caller cannot fix
};

std::string_view ErrorCodeName(ErrorCode code);

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

// The category that best matches an errno value (positive or negative).
ErrorCode CodeForErrno(int err);

}  // namespace berth
