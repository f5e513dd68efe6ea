// berthd's Prometheus endpoint: GET /metrics on its own listener (TCP or a unix socket) and its
// own thread, apart from the plugin socket, so a scrape never waits behind Docker requests and
// a slow scraper never holds up dockerd.
#pragma once

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "engine/config.h"

namespace berth::docker {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Binds now (a berth::Error when it cannot: a bad address, a port in use, a live server on the
  // socket) and serves until destroyed. `render` returns the text exposition; it runs on the
  // server's thread, one scrape at a time.
  MetricsServer(const engine::MetricsConfig& config, Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // "127.0.0.1:9464" or the socket path.
  const std::string& where() const { return where_; }
  const Render& render() const { return render_; }

 private:
  void Accept();

  Render render_;
  std::string where_;
  std::string socket_path_;  // to unlink on the way out; empty for TCP
  boost::asio::io_context io_;
  boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol> acceptor_;
  boost::asio::steady_timer backoff_;
  std::shared_ptr<std::atomic<size_t>> sessions_ = std::make_shared<std::atomic<size_t>>(0);
  std::thread thread_;
};

}  // namespace berth::docker
