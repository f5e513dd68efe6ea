// The replies kubelet parses (its DriverStatus): {"status": "Success", ...}.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "plugin/flex/driver_kind.h"

namespace berth::flex {

nlohmann::json SuccessReply();
nlohmann::json FailureReply(const std::string& message);
nlohmann::json NotSupportedReply(const std::string& message);

// The capabilities `init` reports: attach for RBD only; fsGroup false, because berth sets
// the group on a fresh filesystem's root itself instead of kubelet's recursive chown;
// supportsMetrics true, so kubelet reports volume usage.
nlohmann::json InitReply(DriverKind driver);

}  // namespace berth::flex
