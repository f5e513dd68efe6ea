// HTTP/1.1 over a unix socket with Boost.Beast: a listener accepts, a session reads one request
// at a time, the handler runs on a worker pool (never on the I/O thread), the reply is written
// back on the session's executor. Slow endpoints and fast ones have separate pools so Get and
// List never queue behind an attach.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "plugin/docker/handler.h"

namespace berth::docker {

class Session;

class Server {
 public:
  struct Options {
    std::string socket_path;
    size_t slow_workers = 16;  // attaches mostly wait on Ceph and child processes
    size_t fast_workers = 2;
    // Called once the socket listens (connections queue from then on) and before the first is
    // served: berthd tells systemd it is ready here.
    std::function<void()> on_listening;
  };
  Server(Handler& handler, Options options);
  ~Server();

  // Serves until Stop(); then stops accepting, lets in-flight requests finish and reply, and
  // returns.
  void Run();
  void Stop();  // safe from a signal handler's asio callback or another thread

  // For sessions.
  Handler& handler() { return handler_; }
  boost::asio::thread_pool& pool(bool slow) { return slow ? slow_pool_ : fast_pool_; }
  bool draining() const { return draining_; }
  void Forget(Session* session);

 private:
  void Accept();
  void Listen();

  Handler& handler_;
  Options options_;
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::thread_pool slow_pool_;
  boost::asio::thread_pool fast_pool_;
  std::atomic<bool> draining_{false};
  std::mutex sessions_mu_;
  std::set<std::weak_ptr<Session>, std::owner_less<std::weak_ptr<Session>>> sessions_;
};

}  // namespace berth::docker
