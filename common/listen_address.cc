#include "common/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>

#include "common/error.h"

namespace berth {

namespace {

constexpr std::string_view kForms =
    "use HOST:PORT with a numeric IPv4 address, [IPv6] or localhost (\"127.0.0.1:9464\", "
    "\"[::1]:9464\"), or just a port (\":9464\") for 127.0.0.1";

Error Invalid(std::string_view what, std::string_view text, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument, std::string(what) + " '" + std::string(text) + "' " +
                                                std::string(why) + "; " + std::string(kForms));
}

}  // namespace

std::string ListenAddress::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

ListenAddress ParseListenAddress(std::string_view text, std::string_view what) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw Invalid(what, text, "has an unclosed [ or no :PORT after the IPv6 address");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    throw Invalid(what, text, "looks like an IPv6 address without brackets");
  } else if (const size_t colon = text.find(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  } else {
    port = text;
  }

  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    throw Invalid(what, text, "has no valid port (1-65535)");
  }

  ListenAddress address;
  address.port = static_cast<uint16_t>(value);
  address.host = host.empty() || host == "localhost" ? "127.0.0.1" : std::string(host);
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, address.host.c_str(), &v4) == 1) {
    address.loopback = (ntohl(v4.s_addr) >> 24) == 127;
  } else if (::inet_pton(AF_INET6, address.host.c_str(), &v6) == 1) {
    address.loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  } else {
    throw Invalid(what, text, "does not name a numeric IP address or localhost");
  }
  return address;
}

}  // namespace berth
