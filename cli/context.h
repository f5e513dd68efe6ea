// What every berthctl command shares: global flags and the engine, made on first use.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "engine/engine.h"

namespace berth::cli {

class Context {
 public:
  std::string config_path;
  std::string log_level = "warn";
  bool json = false;

  engine::Engine& engine() {
    if (!engine_) {
      engine_ = std::make_unique<engine::Engine>(
          engine::LoadConfig(engine::ResolveConfigPath(config_path)));
    }
    return *engine_;
  }

  // The command to run once parsing is done (set by the subcommand's callback).
  std::function<void()> run;

 private:
  std::unique_ptr<engine::Engine> engine_;
};

// "db@before-upgrade" -> {"db", "before-upgrade"}; kInvalidArgument without exactly one '@'.
std::pair<std::string, std::string> SplitSnapshotSpec(const std::string& spec);

void AddVolumeCommands(CLI::App& app, Context& ctx);
void AddSnapshotCommands(CLI::App& app, Context& ctx);
void AddLockCommands(CLI::App& app, Context& ctx);
void AddHostCommands(CLI::App& app, Context& ctx);
// Sets `exit_code` to 7 when problems remain.
void AddHealthCommand(CLI::App& app, Context& ctx, int& exit_code);

}  // namespace berth::cli
