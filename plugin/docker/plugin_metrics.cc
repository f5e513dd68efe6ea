#include "plugin/docker/plugin_metrics.h"

#include <spdlog/spdlog.h>

#include "common/version.h"
#include "engine/volume_spec.h"

namespace berth::docker {

PluginMetrics::PluginMetrics(const engine::Engine& engine)
    : engine_(engine),
      operations_(registry_.AddCounter("berth_operations_total",
                                       "Docker plugin requests handled, by result (ok or error).",
                                       {"operation", "backend", "result"})),
      durations_(registry_.AddHistogram(
          "berth_operation_duration_seconds", "Time to answer a Docker plugin request.",
          {"operation", "backend"}, metrics::StorageLatencyBuckets())),
      errors_(registry_.AddCounter("berth_errors_total",
                                   "Failed Docker plugin requests, by error category.",
                                   {"category"})) {
  // Every category exists from the start, so that rate() and alerts see 0 rather than nothing.
  for (ErrorCode code : kAllErrorCodes) {
    errors_.Touch({std::string(ErrorCodeLabel(code))});
  }
  registry_.AddGauge("berth_attached_volumes", "Volumes attached (mapped or mounted) on this host.",
                     {"backend"}, [this] {
                       std::vector<metrics::GaugeSample> samples;
                       for (const auto& [backend, n] : engine_.CountAttachments().attached) {
                         samples.push_back({{backend}, static_cast<double>(n)});
                       }
                       return samples;
                     });
  registry_.AddGauge("berth_mount_references",
                     "Mount references (Docker mount IDs, kubelet paths) held on this host.",
                     {"backend"}, [this] {
                       std::vector<metrics::GaugeSample> samples;
                       for (const auto& [backend, n] : engine_.CountAttachments().references) {
                         samples.push_back({{backend}, static_cast<double>(n)});
                       }
                       return samples;
                     });
  registry_.AddInfo("berth_build_info", "The running berthd's version; always 1.",
                    {"version", "commit"}, {std::string(kVersion), std::string(kGitCommit)});
  registry_.AddGauge("berth_ceph_clients_fenced",
                     "Times berthd found its Ceph client of a backend fenced (blocklisted) and "
                     "replaced it with a new one since it started.",
                     {"backend"}, [this] {
                       std::vector<metrics::GaugeSample> samples;
                       for (const auto& [backend, n] : engine_.FencedClientsReplaced()) {
                         samples.push_back({{backend}, static_cast<double>(n)});
                       }
                       return samples;
                     });
}

std::string PluginMetrics::KnownBackend(const std::string& backend) const {
  return engine_.config().backends.contains(backend) ? backend : "";
}

void PluginMetrics::RecordOperation(std::string_view operation, const std::string& backend,
                                    std::chrono::steady_clock::duration elapsed,
                                    std::optional<ErrorCode> error) {
  const std::string op(operation);
  const std::string known = KnownBackend(backend);
  operations_.Increment({op, known, error ? "error" : "ok"});
  durations_.Observe({op, known}, std::chrono::duration<double>(elapsed).count());
  if (error) {
    errors_.Increment({std::string(ErrorCodeLabel(*error))});
  }
}

std::string PluginMetrics::BackendOf(const std::string& volume) {
  {
    std::lock_guard lock(backends_mu_);
    if (auto it = backends_.find(volume); it != backends_.end()) {
      return it->second;
    }
  }
  try {
    if (auto backend = engine_.LocalBackendOf(volume)) {
      Learn(volume, *backend);
      return KnownBackend(*backend);
    }
  } catch (const std::exception& e) {
    // Invalid names and corrupt state files are the request's and the engine's to report.
    spdlog::debug("metrics: no backend label for {}: {}", volume, e.what());
  }
  return "";
}

void PluginMetrics::Learn(const std::string& volume, const std::string& backend) {
  if (KnownBackend(backend).empty()) {
    return;
  }
  std::lock_guard lock(backends_mu_);
  backends_[volume] = backend;
}

void PluginMetrics::Forget(const std::string& volume) {
  std::lock_guard lock(backends_mu_);
  backends_.erase(volume);
}

}  // namespace berth::docker
