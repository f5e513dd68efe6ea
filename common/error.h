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
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Builds an error from a negative errno returned by a C API, e.g. librbd's -ENOENT.
Error ErrnoError(int negative_errno, const std::string& what);

// The category that best matches an errno value (positive or negative).
ErrorCode CodeForErrno(int err);

}  // namespace berth
