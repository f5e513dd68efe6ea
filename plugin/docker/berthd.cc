// berthd: berth's Docker volume plugin (protocol v1 over a unix socket).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <iostream>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "engine/engine.h"
#include "plugin/docker/handler.h"
#include "plugin/docker/server.h"

int main(int argc, char** argv) {
  CLI::App app{"berthd: the berth Docker volume plugin (driver name = socket file name)"};
  std::string config_path;
  std::string socket_path;
  std::string log_level;
  size_t workers = 16;
  app.add_option("--config", config_path,
                 "config file (default: $BERTH_CONFIG, else /etc/berth/berth.json)");
  app.add_option("--socket", socket_path,
                 "unix socket to serve (default: the config's socket, "
                 "/run/docker/plugins/berth.sock)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (default: config)");
  app.add_option("--workers", workers, "threads for Create/Remove/Mount/Unmount")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("berthd"));
  try {
    auto config = berth::engine::LoadConfig(berth::engine::ResolveConfigPath(config_path));
    berth::SetLogLevel(log_level.empty() ? config.log_level : log_level);
    if (socket_path.empty()) {
      socket_path = config.socket;
    }
    // A broken pipe from a client that went away must not kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);

    berth::engine::Engine engine(config);
    // The last Unmount of a volume replies once the filesystem is unmounted; unmapping and
    // unlocking finish here, off the request path.
    boost::asio::thread_pool detach_pool(2);
    engine.set_detach_executor(
        [&detach_pool](std::function<void()> work) { boost::asio::post(detach_pool, work); });
    engine.FinishPendingDetaches();

    berth::docker::Handler handler(engine);
    berth::docker::Server server(handler, {socket_path, workers, 2});
    boost::asio::io_context signals_io;
    boost::asio::signal_set signals(signals_io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (!ec) {
        spdlog::info("signal {} received", signo);
        server.Stop();
      }
    });
    std::thread signal_thread([&] { signals_io.run(); });
    try {
      server.Run();
    } catch (...) {
      signals_io.stop();
      signal_thread.join();
      throw;
    }
    signals_io.stop();
    signal_thread.join();
    detach_pool.join();
  } catch (const berth::Error& e) {
    spdlog::critical("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::critical("internal error: {}", e.what());
    return 1;
  }
  return 0;
}
