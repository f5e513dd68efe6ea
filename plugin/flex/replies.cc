#include "plugin/flex/replies.h"

namespace berth::flex {

nlohmann::json SuccessReply() { return {{"status", "Success"}}; }

nlohmann::json FailureReply(const std::string& message) {
  return {{"status", "Failure"}, {"message", message}};
}

nlohmann::json NotSupportedReply(const std::string& message) {
  return {{"status", "Not supported"}, {"message", message}};
}

nlohmann::json InitReply(DriverKind driver) {
  nlohmann::json reply = SuccessReply();
  reply["capabilities"] = {{"attach", IsAttachable(driver)},
                           {"fsGroup", false},
                           {"supportsMetrics", true},
                           {"requiresFSResize", BackendType(driver) == "rbd"}};
  return reply;
}

}  // namespace berth::flex
