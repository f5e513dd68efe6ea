// berth-csi: berth's Container Storage Interface driver, a gRPC server on a unix socket serving
// the Identity service and, by --mode, the Controller service, the Node service or both.
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
#include "common/helper_cgroup.h"
#include "common/log.h"
#include "common/version.h"
#include "engine/engine.h"
#include "plugin/csi/controller_service.h"
#include "plugin/csi/csi_spec.h"
#include "plugin/csi/endpoint.h"
#include "plugin/csi/identity_service.h"
#include "plugin/csi/node_paths.h"
#include "plugin/csi/node_service.h"

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
  std::string mode = "all";
  berth::csi::NodeSettings node_settings;
  app.add_option("--endpoint", endpoint, "the unix socket to serve, as unix:///path")
      ->capture_default_str();
  app.add_option("--mode", mode,
                 "which services to serve besides Identity: controller (one per cluster, beside "
                 "the sidecars), node (on every node), or all")
      ->check(CLI::IsMember({"controller", "node", "all"}))
      ->capture_default_str();
  app.add_option("--path-root", node_settings.path_root,
                 "node: every staging and target path must lie below this directory (kubelet's "
                 "root dir; /data in the Swarm managed plugin)")
      ->capture_default_str();
  app.add_option("--max-volumes-per-node", node_settings.max_volumes,
                 "node: the most volumes this node takes, told to the CO (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--release-at-last-unpublish", node_settings.release_at_last_unpublish,
               "node: the last unpublish of a volume also unstages it, and a publish stages it "
               "again (Docker Swarm, which never unstages; set in berth's Swarm plugin)");
  std::string cgroup_namespace_path;
  app.add_option("--join-cgroup-namespace", cgroup_namespace_path,
                 "node: join this cgroup namespace at start (/proc/1/ns/cgroup: the host's, in a "
                 "DaemonSet with hostPID), so that the mappers can leave the container's cgroup "
                 "and outlive the container");
  app.add_option("--config", config_path,
                 "config file (default: $BERTH_CONFIG, else /etc/berth/berth.json)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (default: config)");
  app.set_version_flag("--version", berth::VersionLine("berth-csi"));
  CLI11_PARSE(app, argc, argv);
  // First, while this is the only thread: a namespace is joined per thread.
  std::string cgroup_namespace;
  if (!cgroup_namespace_path.empty()) {
    try {
      cgroup_namespace = berth::JoinCgroupNamespace(cgroup_namespace_path);
    } catch (const berth::Error& e) {
      std::cerr << "berth-csi: --join-cgroup-namespace: " << e.what() << "\n";
      return 1;
    }
  }

  spdlog::set_default_logger(spdlog::stderr_color_mt("berth-csi"));
  std::string socket_path;
  try {
    socket_path = berth::csi::SocketPathOf(endpoint);
    berth::csi::ValidatePathRoot(node_settings.path_root);
  } catch (const berth::Error& e) {
    std::cerr << "berth-csi: " << e.what() << "\n";
    return 2;
  }
  try {
    const auto config = berth::engine::LoadConfig(berth::engine::ResolveConfigPath(config_path));
    berth::SetLogLevel(log_level.empty() ? config.log_level : log_level);
    if (!cgroup_namespace.empty()) {
      spdlog::info("start: {}", cgroup_namespace);
    }
    // SIGTERM and SIGINT end the server; a thread waits for them so the handler does nothing.
    // Blocked before the engine starts any thread, so every thread inherits the block.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    berth::engine::Engine engine(config);
    const bool serve_controller = mode != "node";
    const bool serve_node = mode != "controller";
    if (serve_node) {
      // A berth-csi that was killed or upgraded left its volumes mounted and their mappers
      // running: adopt what is healthy and referenced, finish or undo what was half done.
      for (const auto& action : engine.Reconcile()) {
        spdlog::info("start: volume {}: {}", action.volume, action.detail);
      }
    }
    berth::csi::IdentityService identity(engine, serve_controller);
    berth::csi::ControllerService controller(engine);
    berth::csi::NodeService node(engine, node_settings);

    std::filesystem::create_directories(std::filesystem::path(socket_path).parent_path());
    ClearStaleSocket(socket_path);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket_path, grpc::InsecureServerCredentials());
    builder.RegisterService(&identity);
    if (serve_controller) {
      builder.RegisterService(&controller);
    }
    if (serve_node) {
      builder.RegisterService(&node);
    }
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server) {
      throw berth::Error(berth::ErrorCode::kUnavailable, "cannot listen on " + socket_path);
    }
    ::chmod(socket_path.c_str(), 0600);  // the CO runs as root; nobody else may call
    spdlog::info("berth-csi {} serving {} ({} mode) on {} as node {}", berth::kVersion,
                 berth::csi::kDriverName, mode, socket_path, config.host_id);
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
