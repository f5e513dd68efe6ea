// Unit-test helper: asserts that a call throws berth::Error with a given code and a message that
// names every given fragment.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "common/error.h"

namespace berth::testing {

inline constexpr ErrorCode kInvalid = ErrorCode::kInvalidArgument;

inline void ExpectError(const std::function<void()>& call, ErrorCode code,
                        const std::vector<std::string>& fragments) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << "wrong code (" << ErrorCodeName(e.code()) << ") for: " << e.what();
    const std::string message = e.what();
    for (const auto& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message does not mention \"" << fragment << "\": " << message;
    }
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected berth::Error, got another exception: " << e.what();
    return;
  }
  ADD_FAILURE() << "expected berth::Error (" << ErrorCodeName(code) << "), nothing was thrown";
}

}  // namespace berth::testing
