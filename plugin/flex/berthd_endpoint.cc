#include "plugin/flex/berthd_endpoint.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>

#include "common/error.h"
#include "plugin/flex/berthd_request.h"
#include "plugin/flex/call.h"
#include "plugin/flex/driver.h"
#include "plugin/flex/driver_kind.h"
#include "plugin/flex/replies.h"

namespace berth::flex {

namespace {

nlohmann::json ErrBody(const std::string& message) { return {{"Err", message}}; }

// The file itself, however it was named: a relative path, a symlink, "..".
std::string Canonical(const std::string& path) {
  std::error_code ec;
  const auto canonical = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : canonical.string();
}

}  // namespace

BerthdFlexReply ServeBerthdFlexRequest(const std::string& body, const std::string& config_path,
                                       const engine::Config& config, engine::Engine& engine) {
  BerthdFlexRequest request;
  FlexCall call;
  std::optional<DriverKind> kind;
  try {
    request = DecodeBerthdFlexRequest(body);
    kind = ParseDriverName(request.driver);
    if (!kind) {
      return {400, ErrBody("unknown driver '" + request.driver + "'; rbd, rbd-node or nfs")};
    }
    call = ParseCall(request.args);
  } catch (const Error& e) {
    return {400, ErrBody(e.what())};
  }
  if (Canonical(request.config_path) != Canonical(config_path)) {
    return {409, ErrBody("this berthd serves " + config_path + ", not " + request.config_path)};
  }
  if (const std::string ours = ThisMountNamespace();
      ours.empty() || request.mount_namespace != ours) {
    return {409, ErrBody("this berthd runs in mount namespace " + ours + ", berth-flex in " +
                         request.mount_namespace +
                         ": its mounts would not be the ones kubelet "
                         "sees")};
  }
  if (!GoesToBerthd(call)) {
    return {409, ErrBody(call.verb + " runs in berth-flex's own process")};
  }
  spdlog::info("flex {}: {} {}", request.driver, call.verb,
               call.target_path.empty() ? call.device_mount_path : call.target_path);
  nlohmann::json reply;
  try {
    reply = FlexDriver(*kind, config, engine).Run(call);
  } catch (const Error& e) {
    reply = FailureReply(e.what());
  } catch (const std::exception& e) {
    reply = FailureReply(std::string("internal error: ") + e.what());
  }
  spdlog::info("flex {}: {} -> {}{}", request.driver, call.verb, reply.value("status", ""),
               reply.contains("message") ? ": " + reply["message"].get<std::string>() : "");
  return {200, reply};
}

}  // namespace berth::flex
