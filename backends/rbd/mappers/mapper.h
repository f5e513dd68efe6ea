// Mappers turn an RBD image into a local block device: krbd, rbd-nbd, or rbd-fuse plus a loop
// device where neither kernel module exists.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace berth::rbd {

struct MapRequest {
  std::string conf_file;
  std::string user;
  std::string keyring;  // may be empty
  std::string keyfile;  // a file holding just the key (a secret's), for the tool's start only
  std::string pool;
  std::string image;
  bool read_only = false;
  std::string work_dir;  // private per-volume directory for the mapper's files (fuse)
};

// What a mapping left behind, persisted by the caller so a restarted berthd can unmap it.
struct MappedDevice {
  std::string mapper;    // "krbd", "nbd" or "fuse"
  std::string device;    // "/dev/rbd0", "/dev/nbd0", "/dev/loop3"
  pid_t pid = 0;         // fuse: the detached rbd-fuse process
  std::string fuse_dir;  // fuse: where rbd-fuse exposes the image as a file
  // What it maps, to tell our device from a recycled name (empty in records of older berths).
  std::string pool;
  std::string image;
};

class Mapper {
 public:
  virtual ~Mapper() = default;
  virtual std::string name() const = 0;
  // Whether this host can use the mapper (kernel module, device node, tool installed).
  virtual bool Available() const = 0;
  // Begins the part of a map that reads and writes no data (rbd-fuse's process start, its Ceph
  // session and the image's header), so that it runs while the caller takes the lock; the Map
  // with the same request finishes it, and UnmapAbandoned undoes it. The default does nothing.
  virtual void Start(const MapRequest& /*request*/) {}
  virtual MappedDevice Map(const MapRequest& request) = 0;
  // Idempotent: unmapping something already gone succeeds.
  virtual void Unmap(const MappedDevice& mapped) = 0;
  // Undoes a Map whose caller died before it recorded the result: unmaps whatever maps
  // request.pool/request.image (device mappers), or whatever was started under
  // request.work_dir (fuse). Idempotent.
  virtual void UnmapAbandoned(const MapRequest& request) = 0;
  // Whether the mapping still serves I/O (device present, process alive).
  virtual bool Healthy(const MappedDevice& mapped) const = 0;
  // Makes the device show the image's new size after it grew (krbd and rbd-nbd follow the
  // image on their own; rbd-fuse and its loop device need telling).
  virtual void Refresh(const MappedDevice& /*mapped*/, const std::string& /*image*/,
                       uint64_t /*size*/) {}
};

// "krbd", "nbd", "fuse", or "auto" for the first available in that order. An unknown name is
// kInvalidArgument; "auto" with nothing available is kUnavailable.
std::unique_ptr<Mapper> MakeMapper(const std::string& name);

inline const std::vector<std::string>& MapperNames() {
  static const std::vector<std::string> names = {"auto", "krbd", "nbd", "fuse"};
  return names;
}

}  // namespace berth::rbd
