// A connection to a Ceph cluster (librados) and a pool handle on it, both released by RAII.
#pragma once

#include <rados/librados.h>

#include <chrono>
#include <memory>
#include <string>

namespace berth::rbd {

struct ClusterOptions {
  std::string conf_file;  // ceph.conf
  std::string user;       // cephx id without "client.", e.g. "berth"
  std::string keyring;    // optional; else the conf's keyring setting
  // Bounds every monitor and OSD operation, so an unreachable cluster is an error, not a hang.
  std::chrono::seconds op_timeout{30};
  // A cephx key held in memory (a FlexVolume secret); overrides the keyring. Never logged.
  std::string key;
};

class IoCtx {
 public:
  explicit IoCtx(rados_ioctx_t io) : io_(io) {}
  IoCtx(IoCtx&& other) noexcept : io_(other.io_) { other.io_ = nullptr; }
  IoCtx& operator=(IoCtx&&) = delete;
  IoCtx(const IoCtx&) = delete;
  IoCtx& operator=(const IoCtx&) = delete;
  ~IoCtx();
  rados_ioctx_t get() const { return io_; }

 private:
  rados_ioctx_t io_;
};

// A librados compound operation, released with its owner.
struct WriteOp {
  rados_write_op_t op = rados_create_write_op();
  WriteOp() = default;
  ~WriteOp() { rados_release_write_op(op); }
  WriteOp(const WriteOp&) = delete;
  WriteOp& operator=(const WriteOp&) = delete;
};

struct ReadOp {
  rados_read_op_t op = rados_create_read_op();
  ReadOp() = default;
  ~ReadOp() { rados_release_read_op(op); }
  ReadOp(const ReadOp&) = delete;
  ReadOp& operator=(const ReadOp&) = delete;
};

class Cluster {
 public:
  // Connects (a few ms on a healthy cluster). Failures are kUnavailable with the reason.
  static std::shared_ptr<Cluster> Connect(const ClusterOptions& options);

  // Only Connect can make the key, so a Cluster always holds a connected handle.
  class Key {
    friend class Cluster;
    Key() = default;
  };
  Cluster(Key /*key*/, rados_t rados) : rados_(rados) {}
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  rados_t get() const { return rados_; }
  IoCtx OpenPool(const std::string& pool) const;
  // This client's address as the OSDs see it, e.g. "127.0.0.1:0/3141592".
  std::string Address() const;
  // Fences `address` (a client instance) for `seconds`: its I/O is refused from now on.
  void Blocklist(const std::string& address, uint32_t seconds) const;
  // Fetches the monitors' latest OSD map. An idle client gets no map updates: its first
  // operation after an OSD restarted elsewhere would go to the OSD's old address and wait out
  // the op timeout. kUnavailable when the monitors do not answer.
  void RefreshOsdMap() const;

 private:
  rados_t rados_;
};

}  // namespace berth::rbd
