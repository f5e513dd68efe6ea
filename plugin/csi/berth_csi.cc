// berth-csi: berth's Container Storage Interface driver, a gRPC server on a unix socket. This
// build serves the Identity service; the Controller and Node services follow.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "common/version.h"
#include "engine/engine.h"
#include "plugin/csi/csi_spec.h"
#include "plugin/csi/endpoint.h"
#include "plugin/csi/identity_service.h"

namespace {

// A socket file left by a process that died is replaced; anything else at the path is refused.
void ClearStaleSocket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return;
    }
    throw berth::ErrnoError(-errno, "cannot stat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw berth::Error(berth::ErrorCode::kConflict,
                       path + " exists and is not a socket; berth-csi will not replace it");
  }
  if (::unlink(path.c_str()) != 0) {
    throw berth::ErrnoError(-errno, "cannot remove the stale socket " + path);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"berth-csi: the berth CSI driver (CSI " + std::string(berth::csi::kCsiSpecVersion) +
               ", driver name " + std::string(berth::csi::kDriverName) + ")"};
  std::string endpoint = "unix:///csi/csi.sock";
  std::string config_path;
  std::string log_level;
  app.add_option("--endpoint", endpoint, "the unix socket to serve, as unix:///path")
      ->capture_default_str();
  app.add_option("--config", config_path,
                 "config file (default: $BERTH_CONFIG, else /etc/berth/berth.json)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (default: config)");
  app.set_version_flag("--version", berth::VersionLine("berth-csi"));
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("berth-csi"));
  std::string socket_path;
  try {
    socket_path = berth::csi::SocketPathOf(endpoint);
  } catch (const berth::Error& e) {
    std::cerr << "berth-csi: " << e.what() << "\n";
    return 2;
  }
  try {
    const auto config = berth::engine::LoadConfig(berth::engine::ResolveConfigPath(config_path));
    berth::SetLogLevel(log_level.empty() ? config.log_level : log_level);
    berth::engine::Engine engine(config);
    berth::csi::IdentityService identity(engine);

    // SIGTERM and SIGINT end the server; a thread waits for them so the handler does nothing.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    std::filesystem::create_directories(std::filesystem::path(socket_path).parent_path());
    ClearStaleSocket(socket_path);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket_path, grpc::InsecureServerCredentials());
    builder.RegisterService(&identity);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server) {
      throw berth::Error(berth::ErrorCode::kUnavailable, "cannot listen on " + socket_path);
    }
    ::chmod(socket_path.c_str(), 0600);  // the CO runs as root; nobody else may call
    spdlog::info("berth-csi {} serving {} on {}", berth::kVersion, berth::csi::kDriverName,
                 socket_path);
    std::thread stopper([&] {
      int signal = 0;
      sigwait(&stop_signals, &signal);
      spdlog::info("signal {}: stopping", signal);
      server->Shutdown();
    });
    server->Wait();
    stopper.join();
    ::unlink(socket_path.c_str());
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
