// RBD image operations on the librbd C API: create, open, inspect, remove.
#pragma once

#include <rbd/librbd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/rbd/cluster.h"

namespace berth::rbd {

// "layering,exclusive-lock" -> feature bits. Unknown names throw kInvalidArgument listing the
// known ones. The default keeps images mappable by krbd on older kernels.
inline constexpr const char* kDefaultFeatures = "layering,exclusive-lock";
uint64_t ParseFeatures(const std::string& features);

// Object size in bytes -> librbd "order" (log2). Must be a power of two from 4 KiB to 32 MiB.
int ObjectSizeOrder(uint64_t object_size);

struct ImageWatcher {
  std::string address;  // "127.0.0.1:0/123456"
  int64_t id = 0;       // client id: client.<id>
};

// An open image, closed on destruction.
class Image {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  Image(const IoCtx& io, const std::string& name, Mode mode = Mode::kReadWrite);
  Image(Image&& other) noexcept;
  Image& operator=(Image&&) = delete;
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;
  ~Image();

  rbd_image_t get() const { return image_; }
  const std::string& name() const { return name_; }
  uint64_t Size() const;
  size_t SnapshotCount() const;
  // Grows the image to `size` bytes. A smaller size is kInvalidArgument: berth never shrinks.
  void Grow(uint64_t size);
  std::vector<ImageWatcher> Watchers() const;
  std::vector<std::string> WatcherAddresses() const;

 private:
  std::string name_;
  rbd_image_t image_ = nullptr;
};

// Creates an image. -EEXIST becomes kConflict.
void CreateImage(const IoCtx& io, const std::string& name, uint64_t size, uint64_t features,
                 int order);

bool ImageExists(const IoCtx& io, const std::string& name);

std::vector<std::string> ListImages(const IoCtx& io);

// Removes an image. Unless `force`, refuses (kBusy) while it is watched (mapped somewhere) or
// has snapshots. A missing image is not an error: removal is idempotent.
void RemoveImage(const IoCtx& io, const std::string& name, bool force);

}  // namespace berth::rbd
