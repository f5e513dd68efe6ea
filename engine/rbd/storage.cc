// Images: checked before a create, created, deleted, grown.
#include "engine/rbd/rbd_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "backends/rbd/claim.h"
#include "backends/rbd/image.h"
#include "backends/rbd/lock.h"
#include "common/error.h"
#include "common/fault.h"
#include "engine/rbd/guarded.h"
#include "engine/rbd/mapped.h"
#include "engine/volume_spec.h"

namespace berth::engine {

void RbdBackend::CheckNewStorage(VolumeRecord& record, bool size_given) {
  return Guarded(Retry::kNo, [&]() -> void {
    auto& spec = record.spec;
    const auto& io = Pool(spec.pool);
    if (auto owner = rbd::ClaimHolder(io, rbd::ImageClaim(spec.image));
        owner && *owner != ClaimOwner(spec.name)) {
      throw OwnedByAnother(spec, *owner);
    }
    // Volumes of an older berth own their images without a claim (they claim on first attach).
    for (const auto& other : List()) {
      if (other.spec.name != spec.name && other.spec.pool == spec.pool &&
          other.spec.image == spec.image) {
        throw OwnedByAnother(spec, ClaimOwner(other.spec.name));
      }
    }
    const bool exists = rbd::ImageExists(io, spec.image);
    if (spec.adopted && !exists) {
      throw Error(ErrorCode::kNotFound,
                  "cannot adopt RBD image " + spec.pool + "/" + spec.image + ": it does not exist");
    }
    if (spec.adopted) {
      const uint64_t actual = rbd::Image(io, spec.image, rbd::Image::Mode::kReadOnly).Size();
      if (size_given && actual != spec.size_bytes) {
        throw Error(ErrorCode::kConflict, "RBD image " + spec.pool + "/" + spec.image + " is " +
                                              FormatSize(actual) + ", not " +
                                              FormatSize(spec.size_bytes) +
                                              "; leave out size= to adopt it as it is");
      }
      spec.size_bytes = actual;
    }
    if (!spec.adopted && exists) {
      throw Error(ErrorCode::kConflict, "RBD image " + spec.pool + "/" + spec.image +
                                            " already exists but is not a berth volume; pass "
                                            "image=" +
                                            spec.image + " to adopt it");
    }
  });
}

void RbdBackend::EnsureStorage(const VolumeRecord& record) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& spec = record.spec;
    const auto& io = Pool(spec.pool);
    // Before the image: of two volumes created at once on one image, only one gets here.
    EnsureClaim(io, spec);
    if (rbd::ImageExists(io, spec.image)) {
      return;
    }
    if (spec.adopted) {
      throw Error(ErrorCode::kNotFound, "adopted RBD image " + spec.pool + "/" + spec.image +
                                            " of volume " + spec.name + " no longer exists");
    }
    rbd::CreateImage(io, spec.image, spec.size_bytes, rbd::ParseFeatures(spec.features),
                     rbd::ObjectSizeOrder(spec.object_size));
    spdlog::info("created RBD image {}/{} ({} bytes)", spec.pool, spec.image, spec.size_bytes);
  });
}

void RbdBackend::DeleteStorage(const VolumeRecord& record) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& spec = record.spec;
    const auto& io = Pool(spec.pool);
    if (spec.adopted) {
      spdlog::info("volume {} adopted {}/{}; the image is kept", spec.name, spec.pool, spec.image);
    } else {
      // Snapshots would be lost with the image: the operator removes them, by name, first.
      if (rbd::ImageExists(io, spec.image)) {
        if (const size_t snaps =
                rbd::Image(io, spec.image, rbd::Image::Mode::kReadOnly).SnapshotCount();
            snaps > 0) {
          throw Error(ErrorCode::kBusy,
                      "volume " + spec.name + " has " + std::to_string(snaps) +
                          " snapshot(s), which removing it would destroy; remove them first: "
                          "berthctl snapshot ls " +
                          spec.name + ", then berthctl snapshot rm " + spec.name +
                          "@SNAPSHOT for each");
        }
      }
      rbd::RemoveImage(io, spec.image, /*force=*/false);
      FaultPoint("remove.image_deleted");
      rbd::RemoveLockObject(io, spec.image);
    }
    rbd::ReleaseClaim(io, rbd::ImageClaim(spec.image), ClaimOwner(spec.name));
  });
}

void RbdBackend::Grow(const VolumeRecord& record, uint64_t size) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto& spec = record.spec;
    rbd::Image image(Pool(spec.pool), spec.image);
    image.Grow(size);
    spdlog::info("grew RBD image {}/{} to {} bytes", spec.pool, spec.image, size);
  });
}

void RbdBackend::RefreshAttachment(const VolumeRecord& record, const Attachment& attachment,
                                   uint64_t size) {
  return Guarded(Retry::kNo, [&]() -> void {
    const auto mapped = MappedOf(attachment);
    if (!mapped.mapper.empty()) {
      // rbd-fuse's truncate resizes the image, shrinking included: never ask for less than the
      // image has (the registry may lag behind an `rbd resize`).
      const uint64_t actual =
          rbd::Image(Pool(record.spec.pool), record.spec.image, rbd::Image::Mode::kReadOnly).Size();
      rbd::MakeMapper(mapped.mapper)->Refresh(mapped, record.spec.image, std::max(size, actual));
    }
  });
}

}  // namespace berth::engine
