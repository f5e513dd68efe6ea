// Test helper: one HTTP/1.1 request on a fresh connection to a unix socket or a TCP address,
// with Boost.Beast, and a timeout so a wedged server fails the test instead of hanging it.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace berth::testing {

struct HttpResponse {
  unsigned status = 0;
  std::string content_type;
  std::string allow;
  std::string body;
};

inline HttpResponse HttpRequest(const boost::asio::generic::stream_protocol::endpoint& endpoint,
                                const std::string& method, const std::string& target,
                                const std::string& body = "",
                                std::chrono::seconds timeout = std::chrono::seconds(120)) {
  namespace http = boost::beast::http;
  boost::asio::io_context io;
  boost::asio::generic::stream_protocol::socket socket(io);
  socket.connect(endpoint);
  const timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  if (request.method() == http::verb::unknown) {
    request.method_string(method);
  }
  request.set(http::field::host, "localhost");
  request.keep_alive(false);
  request.body() = body;
  request.prepare_payload();
  http::write(socket, request);

  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return {response.result_int(), std::string(response[http::field::content_type]),
          std::string(response[http::field::allow]), response.body()};
}

inline HttpResponse UnixRequest(const std::string& socket_path, const std::string& method,
                                const std::string& target, const std::string& body = "") {
  return HttpRequest(boost::asio::local::stream_protocol::endpoint(socket_path), method, target,
                     body);
}

inline HttpResponse TcpRequest(const std::string& host, uint16_t port, const std::string& method,
                               const std::string& target) {
  return HttpRequest(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(host), port),
                     method, target);
}

// A port that nothing listened on a moment ago (bind to port 0, read it, close).
inline uint16_t FreeTcpPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

}  // namespace berth::testing
