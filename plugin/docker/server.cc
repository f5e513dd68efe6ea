#include "plugin/docker/server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <filesystem>
#include <optional>

#include "common/error.h"
#include "common/files.h"
#include "engine/volume_record.h"

namespace berth::docker {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Socket = asio::local::stream_protocol::socket;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server& server, Socket socket)
      : server_(server), socket_(std::move(socket)), deadline_(socket_.get_executor()) {}

  void Start() { Read(); }

  // Closes an idle connection now; a busy one closes after its reply.
  void Drain() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) {
        self->Close();
      }
    });
  }

  // For the server's connection cap, on the I/O thread: whether a request is in flight, and
  // since when the connection has waited for its next one.
  bool busy() const { return busy_; }
  std::chrono::steady_clock::time_point waiting_since() const { return waiting_since_; }
  // Closes the connection now (it has no request in flight).
  void Evict() { Close(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(16 * 1024);
    waiting_since_ = std::chrono::steady_clock::now();
    // A whole request within read_timeout: a client that sends half a request, or keeps an
    // idle connection, does not hold it (and a descriptor) for ever.
    deadline_.expires_after(server_.read_timeout());
    deadline_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      auto self = weak.lock();
      if (!ec && self && !self->busy_) {
        self->Close();
      }
    });
    http::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    deadline_.cancel();
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
    auto work =
        std::make_shared<asio::executor_work_guard<Socket::executor_type>>(socket_.get_executor());
    auto answer = [self = shared_from_this(), keep_alive, work](docker::Reply reply) {
      asio::post(self->socket_.get_executor(),
                 [self, reply = std::move(reply), keep_alive] { self->Reply(reply, keep_alive); });
      work->reset();
    };
    auto body = std::make_shared<std::string>(std::move(request.body()));
    auto job = [self = shared_from_this(), method, target, body, answer] {
      answer(self->server_.handler().Handle(method, target, *body));
    };
    const auto volume = slow ? VolumeOf(*body) : std::nullopt;
    if (!volume) {
      asio::post(server_.pool(slow), job);
      return;
    }
    const std::string operation = target.substr(target.find('.') + 1);
    server_.RunForVolume(
        *volume, operation, job,
        [self = shared_from_this(), volume, operation, answer](const std::string& in_flight) {
          answer(self->server_.handler().Busy(*volume, operation, in_flight));
        });
  }

  // The volume a request names ("Name" in its JSON body), if it names one.
  static std::optional<std::string> VolumeOf(const std::string& body) {
    const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object() || !json.contains("Name") || !json["Name"].is_string()) {
      return std::nullopt;
    }
    return json["Name"].get<std::string>();
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
    if (closed_) {
      return;
    }
    closed_ = true;
    deadline_.cancel();
    beast::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
    server_.Forget(this);
  }

  Server& server_;
  Socket socket_;
  asio::steady_timer deadline_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // Touched only on the socket's executor (the I/O thread).
  bool busy_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point waiting_since_;
};

struct Server::Queued {
  std::string operation;
  std::function<void()> job;
  std::function<void(const std::string&)> busy;
  std::unique_ptr<asio::steady_timer> timer;
};

struct Server::VolumeSlot {
  std::string running;  // "Mount since 2026-12-03T11:02:03Z"
  std::deque<std::shared_ptr<Queued>> waiting;
};

Server::Server(Handler& handler, Options options)
    : handler_(handler),
      options_(std::move(options)),
      acceptor_(io_),
      slow_pool_(options_.slow_workers),
      fast_pool_(options_.fast_workers),
      accept_backoff_(io_) {}

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
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
      // Out of file descriptors: free one if a connection is idle, and retry in a moment
      // rather than at once (an immediate retry fails the same way, and spins).
      spdlog::warn("accept failed: {}; closing an idle connection and retrying in 100 ms",
                   ec.message());
      EvictIdlest();
      accept_backoff_.expires_after(std::chrono::milliseconds(100));
      accept_backoff_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && !draining_) {
          Accept();
        }
      });
      return;
    }
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        spdlog::warn("accept failed: {}", ec.message());
      }
      if (!draining_) {
        Accept();
      }
      return;
    }
    size_t open = 0;
    {
      std::lock_guard lock(sessions_mu_);
      open = sessions_.size();
    }
    if (open >= options_.max_connections && !EvictIdlest()) {
      // Every connection has a request in flight: this one cannot be served now.
      beast::error_code ignored;
      socket.close(ignored);
      spdlog::warn("plugin socket: {} connections, all busy; refused a new one", open);
      Accept();
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

bool Server::EvictIdlest() {
  std::shared_ptr<Session> idlest;
  {
    std::lock_guard lock(sessions_mu_);
    for (const auto& weak : sessions_) {
      auto session = weak.lock();
      if (session && !session->busy() &&
          (!idlest || session->waiting_since() < idlest->waiting_since())) {
        idlest = session;
      }
    }
  }
  if (!idlest) {
    return false;
  }
  idlest->Evict();
  return true;
}

void Server::RunForVolume(const std::string& volume, const std::string& operation,
                          std::function<void()> job, std::function<void(const std::string&)> busy) {
  auto queued = std::make_shared<Queued>();
  queued->operation = operation;
  queued->job = std::move(job);
  queued->busy = std::move(busy);
  std::unique_lock lock(volumes_mu_);
  auto& slot = volumes_[volume];
  if (!slot) {
    slot = std::make_unique<VolumeSlot>();
    slot->running = operation + " since " + engine::NowRfc3339();
    lock.unlock();
    StartVolumeJob(volume, queued);
    return;
  }
  slot->waiting.push_back(queued);
  queued->timer = std::make_unique<asio::steady_timer>(io_, options_.busy_wait);
  queued->timer->async_wait(
      [this, volume, weak = std::weak_ptr<Queued>(queued)](beast::error_code ec) {
        auto expired = weak.lock();
        if (ec || !expired) {
          return;
        }
        std::unique_lock lock(volumes_mu_);
        auto it = volumes_.find(volume);
        if (it == volumes_.end()) {
          return;
        }
        auto& waiting = it->second->waiting;
        auto pos = std::find(waiting.begin(), waiting.end(), expired);
        if (pos == waiting.end()) {
          return;  // started meanwhile
        }
        waiting.erase(pos);
        const std::string in_flight = it->second->running;
        lock.unlock();
        asio::post(fast_pool_, [expired, in_flight] { expired->busy(in_flight); });
      });
}

void Server::StartVolumeJob(const std::string& volume, const std::shared_ptr<Queued>& queued) {
  asio::post(slow_pool_, [this, volume, queued] {
    queued->job();
    FinishVolumeJob(volume);
  });
}

void Server::FinishVolumeJob(const std::string& volume) {
  std::unique_lock lock(volumes_mu_);
  auto it = volumes_.find(volume);
  if (it == volumes_.end()) {
    return;
  }
  if (it->second->waiting.empty()) {
    volumes_.erase(it);
    return;
  }
  auto next = it->second->waiting.front();
  it->second->waiting.pop_front();
  it->second->running = next->operation + " since " + engine::NowRfc3339();
  lock.unlock();
  // Its timer finds it gone from the queue and does nothing; cancelled on the I/O thread, whose
  // object it is.
  asio::post(io_, [next] {
    if (next->timer) {
      next->timer->cancel();
    }
  });
  StartVolumeJob(volume, next);
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
