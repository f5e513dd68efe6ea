// berth-flex: berth's Kubernetes FlexVolume driver. Installed as <plugindir>/berth~rbd/rbd,
// berth~rbd-node/rbd-node and berth~nfs/nfs; kubelet and kube-controller-manager run it once per
// call and read exactly one JSON object from its combined stdout and stderr.
//
// This executable links no Ceph or NFS library. It answers `init` (run at every plugin probe)
// and refuses malformed calls itself; hands the other calls to the host's berthd when one serves
// this config (berthd_client.h: one Ceph session for every pod); and execs berth-flex-driver for
// what berthd did not take (driver_engine.h).
#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/config_path.h"
#include "plugin/flex/berthd_client.h"
#include "plugin/flex/berthd_request.h"
#include "plugin/flex/call.h"
#include "plugin/flex/driver_engine.h"
#include "plugin/flex/flex_main.h"
#include "plugin/flex/replies.h"

namespace {

using berth::flex::FlexInvocation;

nlohmann::json AnswerOrHandOver(const FlexInvocation& call) {
  const bool answered_here =
      call.args.empty() || call.args[0] == "init" || !berth::flex::IsKnownVerb(call.args[0]);
  if (answered_here) {
    berth::flex::LogCall(call);  // berthd and the engine log the calls they run
  }
  // Malformed calls fail here, before the engine's libraries are loaded.
  const berth::flex::FlexCall parsed = berth::flex::ParseCall(call.args);
  if (parsed.verb == "init") {
    return berth::flex::InitReply(call.driver);
  }
  if (berth::flex::GoesToBerthd(parsed)) {
    std::error_code ec;
    const std::string config =
        std::filesystem::absolute(berth::ResolveConfigPath(call.config_path), ec).string();
    if (const auto socket = berth::flex::BerthdSocketOf(config)) {
      berth::flex::LogCall(call);
      if (auto reply = berth::flex::CallBerthd(
              *socket, {call.driver_name, call.args, config, berth::flex::ThisMountNamespace()})) {
        spdlog::info("{}: {} handed to berthd at {}", call.driver_name, parsed.verb, *socket);
        return *reply;
      }
    }
  }
  return berth::flex::ExecDriverEngine(call);
}

}  // namespace

int main(int argc, char** argv) {
  return berth::flex::FlexMain(
      argc, argv, "berth-flex",
      "berth-flex: berth's Kubernetes FlexVolume driver.\n"
      "Installed as <plugin dir>/berth~rbd/rbd (RBD volumes the controller attaches),\n"
      "berth~rbd-node/rbd-node (RBD volumes the node attaches alone, for clusters whose\n"
      "controller-manager runs no flex driver) and berth~nfs/nfs (NFS directories).\n"
      "kubelet runs it as `rbd <command> <args...>` and reads one JSON reply.\n"
      "Commands: init, getvolumename, attach, isattached, waitforattach, mountdevice, mount,\n"
      "unmount, unmountdevice, detach, expandvolume, expandfs.\n"
      "init is answered here. The other commands go to the host's berthd when it serves the\n"
      "same config (its \"socket\"), else run in berth-flex-driver, found beside this\n"
      "executable or in ../libexec/berth.",
      AnswerOrHandOver);
}
