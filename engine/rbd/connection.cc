// The process's shared Ceph client: connected on first use, replaced once fenced.
#include "engine/rbd/rbd_backend.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "engine/instance_id.h"

namespace berth::engine {

RbdBackend::RbdBackend(RbdSettings settings, std::string host_id, std::string instance_id)
    : settings_(std::move(settings)),
      host_id_(std::move(host_id)),
      instance_id_(std::move(instance_id)),
      notify_token_(RandomHex()) {}

rbd::LockOwner RbdBackend::Owner(const std::string& volume) const {
  return {host_id_, instance_id_, volume};
}

thread_local RbdBackend::Pinned RbdBackend::pinned_;

rbd::ClusterOptions RbdBackend::ClientOptions() const {
  return {settings_.conf, settings_.user, settings_.keyring,
          std::chrono::seconds(settings_.op_timeout_seconds), settings_.key};
}

std::shared_ptr<RbdBackend::Connection> RbdBackend::CurrentConnection() {
  if (pinned_.backend == this && pinned_.connection) {
    return pinned_.connection;
  }
  std::lock_guard lock(mu_);
  if (!connection_) {
    auto connection = std::make_shared<Connection>();
    connection->cluster = rbd::Cluster::Connect(ClientOptions());
    connection->address = connection->cluster->Address();
    spdlog::info("Ceph client for pool {} connected as client.{} at {}", settings_.pool,
                 settings_.user, connection->address);
    connection_ = std::move(connection);
  }
  return connection_;
}

void RbdBackend::ReplaceFencedConnection(const std::shared_ptr<Connection>& fenced) {
  std::lock_guard lock(mu_);
  if (connection_ != fenced) {
    return;  // another call found it first
  }
  connection_.reset();
  ++fenced_clients_;
  spdlog::warn(
      "AUDIT: this host's Ceph client at {} (pool {}) was fenced (blocklisted); berth never uses "
      "it again and connects a new client for the next call. A volume taken over from this host "
      "meanwhile had its mapper fenced too, and its writes here fail: stop that workload here",
      fenced->address, settings_.pool);
}

rbd::Cluster& RbdBackend::cluster() { return *CurrentConnection()->cluster; }

const rbd::IoCtx& RbdBackend::Pool(const std::string& pool) {
  const auto connection = CurrentConnection();
  std::lock_guard lock(connection->mu);
  auto& slot = connection->pools[pool];
  if (!slot) {
    slot = std::make_unique<rbd::IoCtx>(connection->cluster->OpenPool(pool));
  }
  return *slot;
}

}  // namespace berth::engine
