// A token unique to this test process across a whole suite run: its pid (which wraps at 32768
// on the CI machines, so it repeats) and a random suffix. For volume names and test dirs.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

namespace berth::testing {

inline const std::string& ProcessToken() {
  static const std::string token = [] {
    char suffix[8];
    std::snprintf(suffix, sizeof(suffix), "%04x", std::random_device{}() & 0xffffU);
    return std::to_string(::getpid()) + suffix;
  }();
  return token;
}

}  // namespace berth::testing
