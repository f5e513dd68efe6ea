// berthd: berth's Docker volume plugin (protocol v1 over a unix socket).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <CLI/CLI.hpp>

#include <malloc.h>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "common/version.h"
#include "engine/engine.h"
#include "plugin/docker/handler.h"
#include "plugin/docker/metrics_server.h"
#include "plugin/docker/server.h"
#include "plugin/flex/berthd_endpoint.h"

namespace {

// Type=notify: systemd (and so docker.service, ordered after berthd) waits for READY=1.
// sd_notify does nothing when NOTIFY_SOCKET is unset, i.e. outside a notify unit.
void Notify(const std::string& state) { sd_notify(0, state.c_str()); }

// glibc keeps what large replies (a List of 1000 volumes) freed in its arenas; every `period`
// it goes back to the system, on the timer thread, off the request path.
void ReturnFreedMemoryEvery(boost::asio::steady_timer& timer, std::chrono::seconds period) {
  timer.expires_after(period);
  timer.async_wait([&timer, period](const boost::system::error_code& ec) {
    if (!ec) {
      malloc_trim(0);
      ReturnFreedMemoryEvery(timer, period);
    }
  });
}

// glibc gives each thread that allocates under contention an arena of its own, up to 8 per core,
// and keeps what each arena freed. berthd's threads (request workers, the mount pool, librados'
// own) allocate little, so two arenas cost no measurable latency and keep far less: with 1000
// volumes, after 1000 Lists and a trim, 41 MiB resident (12 MiB anonymous) against 55 (27)
// with glibc's default, Get and List p50 unchanged (docs/benchmarks.md). MALLOC_ARENA_MAX in
// the environment still decides when set.
void LimitMallocArenas() {
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    mallopt(M_ARENA_MAX, 2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  LimitMallocArenas();  // before any thread starts
  CLI::App app{"berthd: the berth Docker volume plugin (driver name = socket file name)"};
  std::string config_path;
  std::string socket_path;
  std::string log_level;
  size_t workers = 16;
  bool check_config = false;
  app.add_option("--config", config_path,
                 "config file (default: $BERTH_CONFIG, else /etc/berth/berth.json)");
  app.add_option("--socket", socket_path,
                 "unix socket to serve (default: the config's socket, "
                 "/run/docker/plugins/berth.sock)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (default: config)");
  app.add_option("--workers", workers, "threads for Create/Remove/Mount/Unmount")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_flag("--check-config", check_config,
               "parse and validate the config (backend settings included, no cluster contact), "
               "then exit: 0 valid, 2 not");
  std::string metrics_listen;
  bool metrics_allow_remote = false;
  app.add_option("--metrics-listen", metrics_listen,
                 "serve Prometheus metrics on HOST:PORT (loopback only unless "
                 "--metrics-allow-remote); overrides the config's metrics section");
  app.add_flag("--metrics-allow-remote", metrics_allow_remote,
               "allow --metrics-listen on a non-loopback address (/metrics has no auth)");
  app.set_version_flag("--version", berth::VersionLine("berthd"));
  CLI11_PARSE(app, argc, argv);

  if (check_config) {
    const std::string path = berth::engine::ResolveConfigPath(config_path);
    try {
      auto config = berth::engine::LoadConfig(path);
      berth::engine::ValidateBackends(config);  // each backend's own keys; nothing is written
      std::cout << path << ": valid; host_id " << config.host_id << ", default backend "
                << config.default_backend << ", socket " << config.socket << "\n";
      if (const auto warning = berth::engine::ExampleHostIdWarning(config.host_id);
          !warning.empty()) {
        std::cerr << path << ": warning: " << warning << "\n";
      }
      return 0;
    } catch (const berth::Error& e) {
      std::cerr << path << ": " << e.what() << "\n";
      return 2;
    }
  }

  spdlog::set_default_logger(spdlog::stderr_color_mt("berthd"));
  try {
    auto config = berth::engine::LoadConfig(berth::engine::ResolveConfigPath(config_path));
    berth::SetLogLevel(log_level.empty() ? config.log_level : log_level);
    if (socket_path.empty()) {
      socket_path = config.socket;
    }
    if (!metrics_listen.empty()) {
      config.metrics = {metrics_listen, metrics_allow_remote || config.metrics.allow_remote, ""};
      berth::engine::ValidateMetricsConfig(config.metrics);
    }
    spdlog::info("{} starting", berth::VersionLine("berthd"));
    if (const auto warning = berth::engine::ExampleHostIdWarning(config.host_id);
        !warning.empty()) {
      spdlog::warn("{}", warning);
    }
    // A broken pipe from a client that went away must not kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);

    Notify("STATUS=finishing detaches left pending by the previous run");
    berth::engine::Engine engine(config);
    // The last Unmount of a volume replies once the filesystem is unmounted; unmapping and
    // unlocking finish here, off the request path.
    boost::asio::thread_pool detach_pool(2);
    engine.set_detach_executor(
        [&detach_pool](std::function<void()> work) { boost::asio::post(detach_pool, work); });
    // Signals and the lingers' timers; run by signal_thread once serving.
    boost::asio::io_context signals_io;
    engine.set_linger_scheduler(
        [&signals_io](std::chrono::milliseconds delay, std::function<void()> work) {
          auto timer = std::make_shared<boost::asio::steady_timer>(signals_io, delay);
          timer->async_wait([timer, work = std::move(work)](const boost::system::error_code& ec) {
            if (!ec) {
              work();
            }
          });
        });
    // Before serving: adopt what is still in use, finish or undo what a crash interrupted, and
    // end the lingers of the last run.
    engine.Reconcile();

    // Off unless configured; bound before the plugin socket so a bad address fails the start.
    std::unique_ptr<berth::docker::PluginMetrics> metrics;
    std::unique_ptr<berth::docker::MetricsServer> metrics_server;
    if (config.metrics.enabled()) {
      metrics = std::make_unique<berth::docker::PluginMetrics>(engine);
      metrics_server = std::make_unique<berth::docker::MetricsServer>(
          config.metrics, [&metrics] { return metrics->Render(); });
    }
    berth::docker::Handler handler(engine, metrics.get());
    // The node's FlexVolume calls, from berth-flex (plugin/flex/berthd_request.h): one Ceph
    // session for every pod on the node.
    const std::string resolved_config_path = berth::engine::ResolveConfigPath(config_path);
    handler.set_flex_service([&](const std::string& body) {
      auto served = berth::flex::ServeBerthdFlexRequest(body, resolved_config_path, config, engine);
      return berth::docker::Reply{served.status, std::move(served.body)};
    });
    berth::docker::Server::Options options;
    options.socket_path = socket_path;
    options.slow_workers = workers;
    options.busy_wait = std::chrono::seconds(config.busy_wait_seconds);
    options.on_listening = [&socket_path] { Notify("READY=1\nSTATUS=serving " + socket_path); };
    berth::docker::Server server(handler, options);
    boost::asio::signal_set signals(signals_io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (!ec) {
        spdlog::info("signal {} received", signo);
        Notify("STOPPING=1\nSTATUS=draining: finishing in-flight requests");
        server.Stop();
      }
    });
    boost::asio::steady_timer trim_timer(signals_io);
    ReturnFreedMemoryEvery(trim_timer, std::chrono::seconds(10));
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
    // Nothing attached here stays without a user: another host may want it next.
    engine.EndLingers();
    detach_pool.join();
  } catch (const berth::Error& e) {
    spdlog::critical("{}", e.what());
    Notify(std::string("STATUS=failed: ") + e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::critical("internal error: {}", e.what());
    Notify(std::string("STATUS=failed: internal error: ") + e.what());
    return 1;
  }
  return 0;
}
