// The process around one FlexVolume call, shared by berth-flex and berth-flex-driver: the reply
// goes to the original stdout and everything else to the log, then the command line, the
// driver's name, and exactly one JSON reply.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "plugin/flex/driver_kind.h"

namespace berth::flex {

struct FlexInvocation {
  DriverKind driver;
  std::string driver_name;        // as given or as installed: "rbd", "rbd-node", "nfs"
  std::vector<std::string> args;  // the verb and its arguments, as kubelet passed them
  std::string config_path;        // --config, or empty (the engine resolves the default)
  std::string log_file;           // --log-file, else $BERTH_FLEX_LOG, else empty (syslog)
  int reply_fd = -1;              // the original stdout, close-on-exec
};

// Answers one call; may throw berth::Error (an unknown verb becomes "Not supported", anything
// else "Failure").
using FlexRunner = std::function<nlohmann::json(const FlexInvocation&)>;

// Logs the call's verb and path arguments (never its options, which may hold secrets).
void LogCall(const FlexInvocation& call);

// The main of `program` (berth-flex, berth-flex-driver): parses argv (--driver, --config,
// --log-file, --help, --version, then the call), runs `run` and writes its reply. Returns the exit
// status: 0 for Success, else 1.
int FlexMain(int argc, char** argv, const std::string& program, const std::string& description,
             const FlexRunner& run);

}  // namespace berth::flex
