// berthctl's exit codes: one per error category, so scripts can switch on them.
#pragma once

#include "common/error.h"

namespace berth::cli {

inline int ExitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 2;
    case ErrorCode::kNotFound:
      return 3;
    case ErrorCode::kBusy:
      return 4;
    case ErrorCode::kConflict:
      return 5;
    case ErrorCode::kUnavailable:
      return 6;
    // 7 is berthctl health's "problems remain".
    case ErrorCode::kPermissionDenied:
      return 8;
    case ErrorCode::kDeadlineExceeded:
      return 9;
    case ErrorCode::kInternal:
      return 1;
  }
  return 1;
}

}  // namespace berth::cli
