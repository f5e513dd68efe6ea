#include "plugin/flex/driver_kind.h"

namespace berth::flex {

std::string_view DriverName(DriverKind driver) {
  switch (driver) {
    case DriverKind::kRbd:
      return "rbd";
    case DriverKind::kRbdNode:
      return "rbd-node";
    case DriverKind::kNfs:
      return "nfs";
  }
  return "?";
}

std::optional<DriverKind> ParseDriverName(std::string_view name) {
  for (const auto driver : {DriverKind::kRbd, DriverKind::kRbdNode, DriverKind::kNfs}) {
    if (name == DriverName(driver)) {
      return driver;
    }
  }
  return std::nullopt;
}

std::string_view BackendType(DriverKind driver) {
  return driver == DriverKind::kNfs ? "nfs" : "rbd";
}

bool IsAttachable(DriverKind driver) { return driver == DriverKind::kRbd; }

}  // namespace berth::flex
