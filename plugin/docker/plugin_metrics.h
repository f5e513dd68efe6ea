// berthd's metrics: how many plugin requests of each kind ran, how long they took and how they
// failed, and this host's attached volumes and mount references (read from the host state at
// each scrape). Served by plugin/docker/metrics_server.h when the config asks for it.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/metrics/registry.h"
#include "engine/engine.h"

namespace berth::docker {

class PluginMetrics {
 public:
  // `engine` (which outlives this) gives the counts of this host's attachments and the fenced
  // clients it replaced.
  explicit PluginMetrics(const engine::Engine& engine);

  // One plugin request. `operation` is one of a fixed set ("create", "mount", ..., "unknown"
  // for an endpoint berthd does not serve); a `backend` that is not a configured backend name
  // is recorded as "" so that request contents never make new series.
  void RecordOperation(std::string_view operation, const std::string& backend,
                       std::chrono::steady_clock::duration elapsed, std::optional<ErrorCode> error);

  // The backend label of a volume: what this process learnt from Create, Get, Path or List,
  // else this host's state for it, else "" (a volume berthd has not seen since it started).
  std::string BackendOf(const std::string& volume);
  void Learn(const std::string& volume, const std::string& backend);
  void Forget(const std::string& volume);

  std::string Render() const { return registry_.Render(); }
  const metrics::Registry& registry() const { return registry_; }

 private:
  std::string KnownBackend(const std::string& backend) const;

  const engine::Engine& engine_;
  metrics::Registry registry_;
  metrics::Counter& operations_;
  metrics::Histogram& durations_;
  metrics::Counter& errors_;
  std::mutex backends_mu_;
  std::map<std::string, std::string> backends_;  // volume -> backend
};

}  // namespace berth::docker
