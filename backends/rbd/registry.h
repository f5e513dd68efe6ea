// The cluster-wide volume registry of one pool: a single RADOS object whose omap holds one
// entry per volume (key = volume name, value = the engine's record, opaque here). Every host
// reads the same object, and List is one round trip.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "backends/rbd/cluster.h"

namespace berth::rbd {

inline constexpr const char* kRegistryObject = "berth.registry";

class Registry {
 public:
  explicit Registry(const IoCtx& io) : io_(io) {}

  std::optional<std::string> Get(const std::string& name) const;
  std::map<std::string, std::string> List() const;
  void Put(const std::string& name, const std::string& value) const;
  void Remove(const std::string& name) const;

 private:
  const IoCtx& io_;
};

}  // namespace berth::rbd
