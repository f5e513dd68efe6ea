// HTTP/1.1 over a unix socket with Boost.Beast: a listener accepts, a session reads one request
// at a time, the handler runs on a worker pool (never on the I/O thread), the reply is written
// back on the session's executor. Slow endpoints and fast ones have separate pools so Get and
// List never queue behind an attach.
//
// Held off (issue 14): requests for one volume run one at a time, and the others wait in a
// queue, not on a worker, for at most busy_wait before they are answered "busy" naming what is
// in flight; so one stuck volume never stalls the others. A connection must send a whole
// request within read_timeout; past max_connections, a new connection evicts the one that has
// waited longest without a request in flight; an accept that fails for lack of descriptors
// backs off instead of spinning.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
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
    size_t max_connections = 256;
    std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
    std::chrono::milliseconds busy_wait{std::chrono::seconds(45)};
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
  std::chrono::milliseconds read_timeout() const { return options_.read_timeout; }
  void Forget(Session* session);
  // Runs `job` on the slow pool once no other request for `volume` runs (in arrival order). A
  // request that waited busy_wait runs `busy` instead, with what is in flight ("Mount since
  // 2026-12-03T11:02:03Z"). Called on the I/O thread.
  void RunForVolume(const std::string& volume, const std::string& operation,
                    std::function<void()> job, std::function<void(const std::string&)> busy);

 private:
  void Accept();
  void Listen();
  // Closes the session that has waited longest for a request, if one is not busy; false when
  // every session has a request in flight. On the I/O thread.
  bool EvictIdlest();
  struct Queued;
  struct VolumeSlot;
  void StartVolumeJob(const std::string& volume, const std::shared_ptr<Queued>& queued);
  void FinishVolumeJob(const std::string& volume);

  Handler& handler_;
  Options options_;
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::thread_pool slow_pool_;
  boost::asio::thread_pool fast_pool_;
  std::atomic<bool> draining_{false};
  std::mutex sessions_mu_;
  std::set<std::weak_ptr<Session>, std::owner_less<std::weak_ptr<Session>>> sessions_;
  boost::asio::steady_timer accept_backoff_;
  std::mutex volumes_mu_;
  std::map<std::string, std::unique_ptr<VolumeSlot>> volumes_;
};

}  // namespace berth::docker
