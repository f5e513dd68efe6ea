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
  // Writes `name` only if it has no entry: one write op that compares and sets. False when it
  // has one (nothing written).
  bool PutNew(const std::string& name, const std::string& value) const;
  // Writes `name` only if its entry still is `expected`. False when it changed or went.
  bool Replace(const std::string& name, const std::string& expected,
               const std::string& value) const;
  // Removes `name`; with `expected`, only if its entry still is that (false otherwise).
  bool Remove(const std::string& name,
              const std::optional<std::string>& expected = std::nullopt) const;

 private:
  const IoCtx& io_;
};

}  // namespace berth::rbd
