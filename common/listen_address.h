// A TCP address to listen on, as an operator writes it ("127.0.0.1:9464", "[::1]:9464",
// ":9464"), checked before anything binds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace berth {

struct ListenAddress {
  std::string host;  // a numeric IPv4 or IPv6 address, without brackets
  uint16_t port = 0;
  bool loopback = false;

  // "127.0.0.1:9464" or "[::1]:9464".
  std::string ToString() const;
};

// Parses HOST:PORT where HOST is a numeric IPv4 address, a bracketed IPv6 address or
// "localhost"; an empty HOST (":9464") or a bare port ("9464") means 127.0.0.1. Names other
// than localhost are refused (a name that resolves differently later would move the listener).
// Anything else is kInvalidArgument naming `what` (the setting) and the accepted forms.
ListenAddress ParseListenAddress(std::string_view text, std::string_view what);

}  // namespace berth
