#include "backends/rbd/image.h"

#include <rbd/features.h>

#include <bit>
#include <map>
#include <sstream>

#include "common/error.h"

namespace berth::rbd {

namespace {

const std::map<std::string, uint64_t>& FeatureNames() {
  static const std::map<std::string, uint64_t> names = {
      {RBD_FEATURE_NAME_LAYERING, RBD_FEATURE_LAYERING},
      {RBD_FEATURE_NAME_STRIPINGV2, RBD_FEATURE_STRIPINGV2},
      {RBD_FEATURE_NAME_EXCLUSIVE_LOCK, RBD_FEATURE_EXCLUSIVE_LOCK},
      {RBD_FEATURE_NAME_OBJECT_MAP, RBD_FEATURE_OBJECT_MAP},
      {RBD_FEATURE_NAME_FAST_DIFF, RBD_FEATURE_FAST_DIFF},
      {RBD_FEATURE_NAME_DEEP_FLATTEN, RBD_FEATURE_DEEP_FLATTEN},
      {RBD_FEATURE_NAME_JOURNALING, RBD_FEATURE_JOURNALING},
  };
  return names;
}

}  // namespace

uint64_t ParseFeatures(const std::string& features) {
  uint64_t bits = 0;
  std::stringstream in(features);
  std::string name;
  while (std::getline(in, name, ',')) {
    auto it = FeatureNames().find(name);
    if (it == FeatureNames().end()) {
      std::string known;
      for (const auto& [n, bit] : FeatureNames()) {
        known += (known.empty() ? "" : ", ") + n;
      }
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown RBD image feature '" + name + "'; known features: " + known);
    }
    bits |= it->second;
  }
  if ((bits & RBD_FEATURE_OBJECT_MAP) && !(bits & RBD_FEATURE_EXCLUSIVE_LOCK)) {
    throw Error(ErrorCode::kInvalidArgument, "RBD feature object-map requires exclusive-lock");
  }
  if ((bits & RBD_FEATURE_FAST_DIFF) && !(bits & RBD_FEATURE_OBJECT_MAP)) {
    throw Error(ErrorCode::kInvalidArgument, "RBD feature fast-diff requires object-map");
  }
  if ((bits & RBD_FEATURE_JOURNALING) && !(bits & RBD_FEATURE_EXCLUSIVE_LOCK)) {
    throw Error(ErrorCode::kInvalidArgument, "RBD feature journaling requires exclusive-lock");
  }
  return bits;
}

int ObjectSizeOrder(uint64_t object_size) {
  if (object_size < 4096 || object_size > (32ULL << 20) || !std::has_single_bit(object_size)) {
    throw Error(ErrorCode::kInvalidArgument, "object size " + std::to_string(object_size) +
                                                 " is invalid; use a power of two from 4K to 32M");
  }
  return std::countr_zero(object_size);
}

Image::Image(const IoCtx& io, const std::string& name, Mode mode) : name_(name) {
  int r = mode == Mode::kReadOnly ? rbd_open_read_only(io.get(), name.c_str(), &image_, nullptr)
                                  : rbd_open(io.get(), name.c_str(), &image_, nullptr);
  if (r == -ENOENT) {
    throw Error(ErrorCode::kNotFound, "RBD image '" + name + "' does not exist");
  }
  if (r < 0) {
    throw ErrnoError(r, "cannot open RBD image " + name);
  }
}

Image::Image(Image&& other) noexcept : name_(std::move(other.name_)), image_(other.image_) {
  other.image_ = nullptr;
}

Image::~Image() {
  if (image_ != nullptr) {
    rbd_close(image_);
  }
}

uint64_t Image::Size() const {
  uint64_t size = 0;
  int r = rbd_get_size(image_, &size);
  if (r < 0) {
    throw ErrnoError(r, "cannot read the size of RBD image " + name_);
  }
  return size;
}

void Image::Grow(uint64_t size) {
  const uint64_t current = Size();
  if (size < current) {
    throw Error(ErrorCode::kInvalidArgument,
                "RBD image " + name_ + " is " + std::to_string(current) +
                    " bytes; shrinking it to " + std::to_string(size) +
                    " bytes would destroy data, and berth never shrinks a volume");
  }
  if (size == current) {
    return;
  }
  int r = rbd_resize2(image_, size, /*allow_shrink=*/false, nullptr, nullptr);
  if (r < 0) {
    throw ErrnoError(r,
                     "cannot grow RBD image " + name_ + " to " + std::to_string(size) + " bytes");
  }
}

size_t Image::SnapshotCount() const {
  int max = 16;
  for (;;) {
    std::vector<rbd_snap_info_t> snaps(static_cast<size_t>(max));
    int r = rbd_snap_list(image_, snaps.data(), &max);
    if (r == -ERANGE) {
      continue;  // max now holds the needed size
    }
    if (r < 0) {
      throw ErrnoError(r, "cannot list snapshots of RBD image " + name_);
    }
    rbd_snap_list_end(snaps.data());
    return static_cast<size_t>(r);
  }
}

std::vector<ImageWatcher> Image::Watchers() const {
  size_t max = 8;
  for (;;) {
    std::vector<rbd_image_watcher_t> raw(max);
    int r = rbd_watchers_list(image_, raw.data(), &max);
    if (r == -ERANGE) {
      continue;
    }
    if (r < 0) {
      throw ErrnoError(r, "cannot list watchers of RBD image " + name_);
    }
    std::vector<ImageWatcher> out;
    for (size_t i = 0; i < max; ++i) {
      out.push_back({raw[i].addr != nullptr ? raw[i].addr : "", raw[i].id});
    }
    rbd_watchers_list_cleanup(raw.data(), max);
    return out;
  }
}

std::vector<std::string> Image::WatcherAddresses() const {
  std::vector<std::string> out;
  for (const auto& w : Watchers()) {
    out.push_back(w.address);
  }
  return out;
}

void CreateImage(const IoCtx& io, const std::string& name, uint64_t size, uint64_t features,
                 int order) {
  int r = rbd_create2(io.get(), name.c_str(), size, features, &order);
  if (r == -EEXIST) {
    throw Error(ErrorCode::kConflict, "RBD image '" + name + "' already exists");
  }
  if (r < 0) {
    throw ErrnoError(r, "cannot create RBD image " + name);
  }
}

bool ImageExists(const IoCtx& io, const std::string& name) {
  rbd_image_t image = nullptr;
  int r = rbd_open_read_only(io.get(), name.c_str(), &image, nullptr);
  if (r == -ENOENT) {
    return false;
  }
  if (r < 0) {
    throw ErrnoError(r, "cannot open RBD image " + name);
  }
  rbd_close(image);
  return true;
}

std::vector<std::string> ListImages(const IoCtx& io) {
  size_t max = 64;
  for (;;) {
    std::vector<rbd_image_spec_t> specs(max);
    int r = rbd_list2(io.get(), specs.data(), &max);
    if (r == -ERANGE) {
      continue;
    }
    if (r < 0) {
      throw ErrnoError(r, "cannot list RBD images");
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < max; ++i) {
      names.emplace_back(specs[i].name);
    }
    rbd_image_spec_list_cleanup(specs.data(), max);
    return names;
  }
}

void RemoveImage(const IoCtx& io, const std::string& name, bool force) {
  if (!ImageExists(io, name)) {
    return;
  }
  if (!force) {
    Image image(io, name, Image::Mode::kReadOnly);
    auto watchers = image.Watchers();
    // Our own read-only open registers no watch, so any watcher is someone else's mapping.
    if (!watchers.empty()) {
      throw Error(ErrorCode::kBusy, "RBD image '" + name + "' is still in use (watched by " +
                                        watchers.front().address + "); unmap it first");
    }
    if (size_t snaps = image.SnapshotCount(); snaps > 0) {
      throw Error(ErrorCode::kBusy, "RBD image '" + name + "' has " + std::to_string(snaps) +
                                        " snapshot(s); remove them first");
    }
  }
  int r = rbd_remove(io.get(), name.c_str());
  if (r == -ENOENT) {
    return;
  }
  if (r == -EBUSY || r == -ENOTEMPTY) {
    throw Error(ErrorCode::kBusy,
                "RBD image '" + name + "' is in use or has snapshots; it was not removed");
  }
  if (r < 0) {
    throw ErrnoError(r, "cannot remove RBD image " + name);
  }
}

}  // namespace berth::rbd
