// berthctl: the operator's command line for berth volumes.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/exit_codes.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/engine.h"
#include "engine/volume_status.h"

namespace {

using berth::engine::Engine;

berth::engine::Options ParseOptionList(const std::vector<std::string>& items) {
  berth::engine::Options options;
  for (const auto& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw berth::Error(berth::ErrorCode::kInvalidArgument,
                         "option '" + item + "' must look like key=value");
    }
    options[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"berthctl: manage berth volumes on Ceph RBD (and NFS)"};
  app.require_subcommand(1);
  std::string config_path;
  std::string log_level = "warn";
  app.add_option("--config", config_path,
                 "config file (default: $BERTH_CONFIG, else /etc/berth/berth.json)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();

  std::string name;
  std::vector<std::string> option_items;
  std::string ref = "berthctl";

  auto* create = app.add_subcommand("create", "create a volume (idempotent)");
  create->add_option("name", name, "volume name")->required();
  create->add_option("-o,--opt", option_items,
                     "option key=value: size, fstype, mkfs_options, mount_options, read_only, "
                     "backend, pool, image, features, object_size");

  auto* remove = app.add_subcommand("rm", "remove a volume and its storage");
  remove->add_option("name", name, "volume name")->required();

  auto* list = app.add_subcommand("ls", "list volumes");
  auto* inspect = app.add_subcommand("inspect", "show a volume as JSON");
  inspect->add_option("name", name, "volume name")->required();

  auto* mount = app.add_subcommand("mount", "attach and mount a volume on this host");
  mount->add_option("name", name, "volume name")->required();
  mount->add_option("--ref", ref, "reference id to count this mount under")->capture_default_str();

  auto* unmount = app.add_subcommand("unmount", "drop a mount reference; the last one detaches");
  unmount->add_option("name", name, "volume name")->required();
  unmount->add_option("--ref", ref, "reference id")->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("berthctl"));
  try {
    berth::SetLogLevel(log_level);
    Engine engine(berth::engine::LoadConfig(berth::engine::ResolveConfigPath(config_path)));
    if (create->parsed()) {
      engine.Create(name, ParseOptionList(option_items));
      std::cout << name << "\n";
    } else if (remove->parsed()) {
      engine.Remove(name);
      std::cout << name << "\n";
    } else if (list->parsed()) {
      for (const auto& info : engine.List()) {
        const auto& spec = info.record.spec;
        std::cout << spec.name << "\t" << spec.backend << "\t"
                  << berth::engine::FormatSize(spec.size_bytes) << "\t" << spec.fstype << "\t"
                  << (info.local ? info.local->mount_path : "-") << "\n";
      }
    } else if (inspect->parsed()) {
      std::cout << berth::engine::VolumeStatus(engine.Get(name), engine.config().host_id).dump(2)
                << "\n";
    } else if (mount->parsed()) {
      auto result = engine.Mount(name, ref);
      std::cout << result.mount_path << "\n";
    } else if (unmount->parsed()) {
      engine.Unmount(name, ref);
    }
  } catch (const berth::Error& e) {
    std::cerr << "berthctl: " << e.what() << "\n";
    return berth::cli::ExitCodeFor(e.code());
  } catch (const std::exception& e) {
    std::cerr << "berthctl: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
