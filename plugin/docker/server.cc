#include "plugin/docker/server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <optional>

#include "common/error.h"
#include "common/files.h"

namespace berth::docker {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Socket = asio::local::stream_protocol::socket;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server& server, Socket socket) : server_(server), socket_(std::move(socket)) {}

  void Start() { Read(); }

  // Closes an idle connection now; a busy one closes after its reply.
  void Drain() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) {
        beast::error_code ignored;
        self->socket_.close(ignored);
      }
    });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(16 * 1024);
    http::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::bad_descriptor || ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return Reply({413, ErrorBody("request body is over the 1 MiB limit")}, false);
    }
    if (ec) {
      spdlog::warn("bad HTTP request on the plugin socket: {}", ec.message());
      return Reply({400, ErrorBody("malformed HTTP request: " + ec.message())}, false);
    }
    auto request = parser_->release();
    const std::string target(request.target());
    const std::string method(request.method_string());
    const bool keep_alive = request.keep_alive() && !server_.draining();
    auto endpoint = ParseEndpoint(target);
    const bool slow = endpoint && IsSlow(*endpoint);
    busy_ = true;
    // The guard keeps io_ running until the reply is queued, even while draining.
    auto work = asio::make_work_guard(socket_.get_executor());
    asio::post(server_.pool(slow), [self = shared_from_this(), method, target,
                                    body = std::move(request.body()), keep_alive,
                                    work = std::move(work)]() mutable {
      docker::Reply reply = self->server_.handler().Handle(method, target, body);
      asio::post(self->socket_.get_executor(),
                 [self, reply = std::move(reply), keep_alive] { self->Reply(reply, keep_alive); });
      work.reset();
    });
  }

  void Reply(const docker::Reply& reply, bool keep_alive) {
    auto response = std::make_shared<http::response<http::string_body>>();
    response->result(reply.status);
    response->version(11);
    response->set(http::field::content_type, kContentType);
    response->keep_alive(keep_alive && !server_.draining());
    // Invalid UTF-8 from a request (echoed in an error) must not throw here, on the I/O thread.
    response->body() =
        reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    response->prepare_payload();
    http::async_write(socket_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
                        self->busy_ = false;
                        if (ec || !response->keep_alive()) {
                          return self->Close();
                        }
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
    server_.Forget(this);
  }

  Server& server_;
  Socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool busy_ = false;  // touched only on the socket's executor
};

Server::Server(Handler& handler, Options options)
    : handler_(handler),
      options_(std::move(options)),
      acceptor_(io_),
      slow_pool_(options_.slow_workers),
      fast_pool_(options_.fast_workers) {}

Server::~Server() {
  slow_pool_.join();
  fast_pool_.join();
}

void Server::Listen() {
  const std::string& path = options_.socket_path;
  MakeDirectories(std::filesystem::path(path).parent_path().string(), 0755);
  if (PathExists(path)) {
    // A live server on the path means another berthd: never steal its socket.
    Socket probe(io_);
    beast::error_code ec;
    probe.connect(asio::local::stream_protocol::endpoint(path), ec);
    if (!ec) {
      throw Error(ErrorCode::kConflict,
                  "another process already serves " + path + "; stop it or use --socket");
    }
    ::unlink(path.c_str());
  }
  acceptor_.open(asio::local::stream_protocol());
  acceptor_.bind(asio::local::stream_protocol::endpoint(path));
  if (::chmod(path.c_str(), 0600) != 0) {
    throw ErrnoError(-errno, "cannot chmod " + path);
  }
  acceptor_.listen(asio::socket_base::max_listen_connections);
  spdlog::info("berthd listening on {}", path);
}

void Server::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, Socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        spdlog::warn("accept failed: {}", ec.message());
      }
      if (!draining_) {
        Accept();
      }
      return;
    }
    auto session = std::make_shared<Session>(*this, std::move(socket));
    {
      std::lock_guard lock(sessions_mu_);
      sessions_.insert(session);
    }
    session->Start();
    Accept();
  });
}

void Server::Forget(Session* session) {
  std::lock_guard lock(sessions_mu_);
  std::erase_if(sessions_, [session](const auto& weak) {
    auto strong = weak.lock();
    return !strong || strong.get() == session;
  });
}

void Server::Run() {
  Listen();
  Accept();
  if (options_.on_listening) {
    options_.on_listening();
  }
  io_.run();
  // io_ ran out of work: every session closed after draining. Let handlers still running
  // (their replies can no longer be written) finish their engine calls before returning.
  slow_pool_.join();
  fast_pool_.join();
  ::unlink(options_.socket_path.c_str());
  spdlog::info("berthd stopped");
}

void Server::Stop() {
  asio::post(io_, [this] {
    if (draining_.exchange(true)) {
      return;
    }
    spdlog::info("berthd draining: no new connections, finishing in-flight requests");
    beast::error_code ignored;
    acceptor_.close(ignored);
    std::lock_guard lock(sessions_mu_);
    for (const auto& weak : sessions_) {
      if (auto session = weak.lock()) {
        session->Drain();
      }
    }
  });
}

}  // namespace berth::docker
