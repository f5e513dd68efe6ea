#include "plugin/flex/berthd_client.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "plugin/flex/replies.h"

namespace berth::flex {

namespace asio = boost::asio;
namespace http = boost::beast::http;

std::optional<std::string> BerthdSocketOf(const std::string& config_path) {
  std::ifstream in(config_path);
  if (!in) {
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  const auto json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return std::nullopt;
  }
  const auto socket = json.find("socket");
  if (socket == json.end()) {
    return kDefaultBerthdSocket;
  }
  if (!socket->is_string() || socket->get<std::string>().empty()) {
    return std::nullopt;
  }
  return socket->get<std::string>();
}

std::optional<nlohmann::json> CallBerthd(const std::string& socket,
                                         const BerthdFlexRequest& request) {
  std::error_code missing;
  if (!std::filesystem::is_socket(socket, missing)) {
    return std::nullopt;  // no berthd on this node: the usual case, not worth a log line
  }
  asio::io_context io;
  asio::local::stream_protocol::socket stream(io);
  boost::system::error_code ec;
  stream.connect(asio::local::stream_protocol::endpoint(socket), ec);
  if (ec) {
    spdlog::info("berthd at {} is not answering ({}): running the call here", socket, ec.message());
    return std::nullopt;
  }
  http::request<http::string_body> out{http::verb::post, std::string(kBerthdFlexTarget), 11};
  out.set(http::field::host, "berthd");
  out.set(http::field::content_type, "application/json");
  out.body() = EncodeBerthdFlexRequest(request);
  out.prepare_payload();
  http::write(stream, out, ec);
  if (ec) {
    spdlog::info("berthd at {} did not take the call ({}): running it here", socket, ec.message());
    return std::nullopt;
  }
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  http::read(stream, buffer, parser, ec);
  if (ec) {
    return FailureReply("berthd at " + socket + " took the call but did not answer (" +
                        ec.message() + "); kubelet retries it");
  }
  const auto& in = parser.get();
  const auto body = nlohmann::json::parse(in.body(), nullptr, /*allow_exceptions=*/false);
  const unsigned status = in.result_int();
  if (status == 404 || status == 409) {
    spdlog::info("berthd at {} does not serve this call ({}: {}): running it here", socket, status,
                 body.is_object() ? body.value("Err", "") : "");
    return std::nullopt;
  }
  if (status != 200 || !body.is_object() || !body.contains("status")) {
    return FailureReply("berthd at " + socket + " answered " + std::to_string(status) + ": " +
                        (body.is_object() ? body.value("Err", in.body()) : in.body()));
  }
  return body;
}

}  // namespace berth::flex
