// berth-flex-driver: the half of berth-flex that links the engine (librbd, librados, libnfs).
// kubelet runs the installed driver for every call, `init` included, as soon as the file appears
// and at every plugin probe; loading Ceph's libraries alone costs tens of milliseconds. So
// berth-flex answers init (and rejects bad calls) itself and execs berth-flex-driver, with the
// same pid, stdout and arguments, only for the verbs that need the engine.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string_view>
#include <vector>

#include "plugin/flex/flex_main.h"

namespace berth::flex {

inline constexpr std::string_view kDriverEngineName = "berth-flex-driver";

// Where berth-flex looks for berth-flex-driver, in order: beside its own executable (a
// FlexVolume driver directory, a build tree), then <its dir>/../libexec/berth (the package's
// /usr/bin/berth-flex and /usr/libexec/berth/berth-flex-driver).
std::vector<std::filesystem::path> DriverEngineCandidates(const std::filesystem::path& exe);

// The driver engine's command line for `call`: the driver name, --config and --log-file made
// explicit, then kubelet's arguments unchanged.
std::vector<std::string> DriverEngineArgs(const std::filesystem::path& engine,
                                          const FlexInvocation& call);

// Replaces this process with berth-flex-driver running `call`, its stdout the reply's. Returns
// only when no candidate could be run: a Failure reply that names where it looked and why.
nlohmann::json ExecDriverEngine(const FlexInvocation& call);

}  // namespace berth::flex
