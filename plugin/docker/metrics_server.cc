#include "plugin/docker/metrics_server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>

#include "common/error.h"
#include "common/files.h"
#include "common/listen_address.h"
#include "common/metrics/exposition.h"

namespace berth::docker {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Protocol = asio::generic::stream_protocol;
using Acceptor = asio::basic_socket_acceptor<Protocol>;
using Stream = beast::basic_stream<Protocol, asio::any_io_executor, beast::unlimited_rate_policy>;

// A scraper that connects and then says nothing is dropped after this long.
constexpr auto kIdleTimeout = std::chrono::seconds(30);
// Open connections at most; more are closed at once.
constexpr size_t kMaxConnections = 64;

http::response<http::string_body> Respond(const http::request<http::string_body>& request,
                                          const MetricsServer::Render& render) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path != "/metrics") {
    response.result(http::status::not_found);
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = "berthd serves only GET /metrics here\n";
  } else if (request.method() != http::verb::get) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET");
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = std::string(request.method_string()) + " is not allowed; use GET\n";
  } else {
    response.result(http::status::ok);
    response.set(http::field::content_type, metrics::kContentType);
    response.body() = render();
  }
  response.prepare_payload();
  return response;
}

class ScrapeSession : public std::enable_shared_from_this<ScrapeSession> {
 public:
  ScrapeSession(Protocol::socket socket, const MetricsServer& server,
                std::shared_ptr<std::atomic<size_t>> count)
      : stream_(std::move(socket)), server_(server), count_(std::move(count)) {
    ++*count_;
  }
  ~ScrapeSession() { --*count_; }
  ScrapeSession(const ScrapeSession&) = delete;
  ScrapeSession& operator=(const ScrapeSession&) = delete;

  void Read() {
    request_ = {};
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) {
                         return self->Close();
                       }
                       self->Reply();
                     });
  }

 private:
  void Reply() {
    auto response =
        std::make_shared<http::response<http::string_body>>(Respond(request_, server_.render()));
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
                        if (ec || !response->keep_alive()) {
                          return self->Close();
                        }
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(Protocol::socket::shutdown_both, ignored);
    stream_.close();
  }

  Stream stream_;
  const MetricsServer& server_;
  std::shared_ptr<std::atomic<size_t>> count_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
};

void Bind(Acceptor& acceptor, const Protocol::endpoint& endpoint, const std::string& where) {
  beast::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec && endpoint.protocol().family() != AF_UNIX) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    const bool in_use = ec == asio::error::address_in_use;
    throw Error(in_use ? ErrorCode::kConflict : ErrorCode::kUnavailable,
                "cannot serve metrics on " + where + ": " + ec.message() +
                    (in_use ? "; choose another port with --metrics-listen or the config's "
                              "metrics.listen"
                            : ""));
  }
}

}  // namespace

MetricsServer::MetricsServer(const engine::MetricsConfig& config, Render render)
    : render_(std::move(render)), acceptor_(io_), backoff_(io_) {
  engine::ValidateMetricsConfig(config);
  if (!config.listen.empty()) {
    const ListenAddress address = ParseListenAddress(config.listen, "metrics listen address");
    where_ = address.ToString();
    const asio::ip::tcp::endpoint tcp(asio::ip::make_address(address.host), address.port);
    Bind(acceptor_, Protocol::endpoint(tcp), where_);
  } else {
    where_ = socket_path_ = config.socket;
    MakeDirectories(std::filesystem::path(socket_path_).parent_path().string(), 0755);
    if (PathExists(socket_path_)) {
      // As for the plugin socket: a live server there is another berthd, never ours to take.
      asio::local::stream_protocol::socket probe(io_);
      beast::error_code ec;
      probe.connect(asio::local::stream_protocol::endpoint(socket_path_), ec);
      if (!ec) {
        throw Error(ErrorCode::kConflict, "another process already serves " + socket_path_ +
                                              "; stop it or change the config's metrics.socket");
      }
      ::unlink(socket_path_.c_str());
    }
    Bind(acceptor_, Protocol::endpoint(asio::local::stream_protocol::endpoint(socket_path_)),
         where_);
    if (::chmod(socket_path_.c_str(), 0600) != 0) {
      throw ErrnoError(-errno, "cannot chmod " + socket_path_);
    }
  }
  Accept();
  thread_ = std::thread([this] { io_.run(); });
  spdlog::info("serving metrics on {} (GET /metrics)", where_);
}

MetricsServer::~MetricsServer() {
  io_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (!socket_path_.empty()) {
    ::unlink(socket_path_.c_str());
  }
}

void MetricsServer::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, Protocol::socket socket) {
    if (ec == asio::error::operation_aborted) {
      return;
    }
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
      // Out of descriptors: retry in a moment instead of at once (which spins).
      spdlog::warn("metrics: accept failed: {}; retrying in 100 ms", ec.message());
      backoff_.expires_after(std::chrono::milliseconds(100));
      backoff_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) {
          Accept();
        }
      });
      return;
    }
    if (ec) {
      spdlog::warn("metrics: accept failed: {}", ec.message());
    } else if (sessions_->load() >= kMaxConnections) {
      // Scrapers need one connection each; a flood does not get a descriptor per connection.
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<ScrapeSession>(std::move(socket), *this, sessions_)->Read();
    }
    Accept();
  });
}

}  // namespace berth::docker
