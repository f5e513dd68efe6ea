// berth-flex-driver: the half of berth-flex that runs calls against the engine. berth-flex execs
// it for every verb but init (see driver_engine.h); run by hand it takes berth-flex's command
// line, `--driver` included.
#include "engine/config.h"
#include "plugin/flex/call.h"
#include "plugin/flex/driver.h"
#include "plugin/flex/flex_main.h"

namespace {

nlohmann::json RunOnEngine(const berth::flex::FlexInvocation& call) {
  berth::flex::LogCall(call);
  const berth::flex::FlexCall parsed = berth::flex::ParseCall(call.args);
  berth::flex::FlexDriver driver(call.driver, berth::engine::ResolveConfigPath(call.config_path));
  return driver.Run(parsed);
}

}  // namespace

int main(int argc, char** argv) {
  return berth::flex::FlexMain(
      argc, argv, "berth-flex-driver",
      "berth-flex-driver: runs one FlexVolume call against berth's engine.\n"
      "berth-flex execs it, with --driver set, for every command but init; it takes the same\n"
      "command line: berth-flex-driver --driver rbd|rbd-node|nfs <command> <args...>.",
      RunOnEngine);
}
