#include "backends/rbd/cluster.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "backends/rbd/keyfile.h"
#include "common/error.h"

namespace berth::rbd {

namespace {

// rados_t before rados_connect succeeds must still be shut down.
struct PendingCluster {
  rados_t rados = nullptr;
  ~PendingCluster() {
    if (rados != nullptr) {
      rados_shutdown(rados);
    }
  }
};

void SetConf(rados_t rados, const char* key, const std::string& value) {
  int r = rados_conf_set(rados, key, value.c_str());
  if (r < 0) {
    throw ErrnoError(r, std::string("cannot set Ceph option ") + key);
  }
}

}  // namespace

IoCtx::~IoCtx() {
  if (io_ != nullptr) {
    rados_ioctx_destroy(io_);
  }
}

std::shared_ptr<Cluster> Cluster::Connect(const ClusterOptions& options) {
  PendingCluster pending;
  int r = rados_create(&pending.rados, options.user.empty() ? nullptr : options.user.c_str());
  if (r < 0) {
    throw ErrnoError(r, "cannot create a Ceph client for user " + options.user);
  }
  r = rados_conf_read_file(pending.rados,
                           options.conf_file.empty() ? nullptr : options.conf_file.c_str());
  if (r < 0) {
    throw Error(ErrorCode::kUnavailable, "cannot read Ceph configuration " + options.conf_file +
                                             " (error " + std::to_string(r) +
                                             "); check the backend's \"conf\" path");
  }
  if (!options.keyring.empty()) {
    SetConf(pending.rados, "keyring", options.keyring);
  }
  if (!options.key.empty()) {
    ValidateCephxKey(options.key);  // librados would print a key it cannot decode to stderr
    SetConf(pending.rados, "key", options.key);  // the message names the option, not the value
  }
  const std::string timeout = std::to_string(options.op_timeout.count());
  SetConf(pending.rados, "rados_mon_op_timeout", timeout);
  SetConf(pending.rados, "rados_osd_op_timeout", timeout);
  SetConf(pending.rados, "client_mount_timeout", timeout);
  r = rados_connect(pending.rados);
  if (r < 0) {
    Error e = ErrnoError(r, "cannot connect to the Ceph cluster of " + options.conf_file +
                                " as client." + options.user);
    // The monitors refused the key: no retry heals that. Anything else (monitors away, a
    // timeout) may.
    if (e.code() == ErrorCode::kPermissionDenied) {
      throw Error(e.code(), std::string(e.what()) + "; check the user's key and caps",
                  e.system_errno());
    }
    throw Error(ErrorCode::kUnavailable,
                std::string(e.what()) + "; check the monitors are reachable and the key is valid",
                e.system_errno());
  }
  auto cluster = std::make_shared<Cluster>(Key(), pending.rados);
  pending.rados = nullptr;
  spdlog::debug("connected to Ceph as client.{} at {}", options.user, cluster->Address());
  return cluster;
}

Cluster::~Cluster() { rados_shutdown(rados_); }

IoCtx Cluster::OpenPool(const std::string& pool) const {
  rados_ioctx_t io = nullptr;
  int r = rados_ioctx_create(rados_, pool.c_str(), &io);
  if (r == -ENOENT) {
    throw Error(ErrorCode::kNotFound, "Ceph pool '" + pool + "' does not exist");
  }
  if (r < 0) {
    throw ErrnoError(r, "cannot open Ceph pool " + pool);
  }
  return IoCtx(io);
}

std::string Cluster::Address() const {
  char* addrs = nullptr;
  int r = rados_getaddrs(rados_, &addrs);
  if (r < 0 || addrs == nullptr) {
    return "unknown";
  }
  std::string out(addrs);
  std::free(addrs);
  return out;
}

void Cluster::Blocklist(const std::string& address, uint32_t seconds) const {
  int r = rados_blocklist_add(rados_, const_cast<char*>(address.c_str()), seconds);
  if (r < 0) {
    throw ErrnoError(r, "cannot blocklist Ceph client " + address +
                            " (the Ceph user needs mon 'profile rbd' caps)");
  }
}

void Cluster::RefreshOsdMap() const {
  if (int r = rados_wait_for_latest_osdmap(rados_); r < 0) {
    throw ErrnoError(r, "cannot fetch the latest OSD map");
  }
}

}  // namespace berth::rbd
