#include "tests/support/plugin_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

namespace berth::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;

struct PluginClient::Connection {
  explicit Connection(const std::string& path) : socket(io) {
    socket.connect(asio::local::stream_protocol::endpoint(path));
  }
  asio::io_context io;
  asio::local::stream_protocol::socket socket;
  boost::beast::flat_buffer buffer;
};

std::string PluginReply::Err() const {
  if (json.is_discarded() || !json.is_object() || !json.contains("Err")) {
    return "";
  }
  return json["Err"].is_string() ? json["Err"].get<std::string>() : json["Err"].dump();
}

PluginClient::PluginClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}

PluginClient::~PluginClient() = default;

PluginReply PluginClient::Call(const std::string& endpoint, const std::string& body) {
  try {
    if (!connection_) {
      connection_ = std::make_unique<Connection>(socket_path_);
    }
    http::request<http::string_body> request{http::verb::post, "/" + endpoint, 11};
    request.set(http::field::host, "plugin.moby.localhost");
    request.set(http::field::accept, "application/vnd.docker.plugins.v1.2+json");
    request.keep_alive(true);
    request.body() = body;
    request.prepare_payload();
    http::write(connection_->socket, request);
    http::response<http::string_body> response;
    http::read(connection_->socket, connection_->buffer, response);
    PluginReply reply;
    reply.status = static_cast<int>(response.result_int());
    reply.body = std::move(response.body());
    reply.json = nlohmann::json::parse(reply.body, nullptr, false);
    reply.keep_alive = response.keep_alive();
    if (!reply.keep_alive) {
      connection_.reset();
    }
    return reply;
  } catch (const boost::system::system_error& e) {
    connection_.reset();
    throw std::runtime_error(endpoint + " on " + socket_path_ + ": " + e.what());
  }
}

nlohmann::json PluginClient::CallOk(const std::string& endpoint, const std::string& body) {
  PluginReply reply = Call(endpoint, body);
  if (!reply.Ok()) {
    throw std::runtime_error(endpoint + " " + body + ": HTTP " + std::to_string(reply.status) +
                             " " + reply.body);
  }
  return reply.json;
}

std::string NameBody(const std::string& name) { return nlohmann::json{{"Name", name}}.dump(); }

}  // namespace berth::testing
