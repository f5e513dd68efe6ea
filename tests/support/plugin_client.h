// A client of berthd's socket speaking the Docker volume plugin protocol (HTTP/1.1 POST over a
// unix socket, Boost.Beast): one keep-alive connection, one request at a time. Shared by the
// benchmarks and the integration tests; not thread-safe (one client per thread).
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace berth::testing {

struct PluginReply {
  int status = 0;
  std::string body;
  nlohmann::json json;  // discarded (is_discarded()) when the body is not JSON
  bool keep_alive = false;

  // The plugin's error string; empty on success.
  std::string Err() const;
  // HTTP 200, a JSON body and an empty "Err": what dockerd takes as success.
  bool Ok() const { return status == 200 && !json.is_discarded() && Err().empty(); }
};

class PluginClient {
 public:
  explicit PluginClient(std::string socket_path);
  ~PluginClient();
  PluginClient(const PluginClient&) = delete;
  PluginClient& operator=(const PluginClient&) = delete;

  // POSTs `body` (sent as it is, NUL bytes included) to /`endpoint`, e.g. "VolumeDriver.List".
  // Connects first when the last reply closed the connection. Throws std::runtime_error when
  // the socket fails or the reply is not HTTP.
  PluginReply Call(const std::string& endpoint, const std::string& body);
  // Call, but a reply that is not Ok() throws std::runtime_error naming it; returns the JSON.
  nlohmann::json CallOk(const std::string& endpoint, const std::string& body);

 private:
  struct Connection;
  std::string socket_path_;
  std::unique_ptr<Connection> connection_;
};

// {"Name": name}, the body of Get, Path, Remove.
std::string NameBody(const std::string& name);

}  // namespace berth::testing
