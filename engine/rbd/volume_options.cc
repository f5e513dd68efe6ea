// The rbd backend's volume options: pool, image, features, object_size.
#include <cctype>

#include "backends/rbd/image.h"
#include "common/error.h"
#include "engine/volume_options.h"

namespace berth::engine {

namespace {

void ValidateCephName(const std::string& what, const std::string& value) {
  if (value.empty() || value.size() > 128) {
    throw InvalidArgument(what + " must be 1-128 characters");
  }
  for (char c : value) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      throw InvalidArgument(what + " '" + value +
                            "' may only contain letters, digits, '_', '-' and '.'");
    }
  }
  if (value == "." || value == ".." || value.front() == '-') {
    throw InvalidArgument(what + " '" + value + "' is not allowed");
  }
}

}  // namespace

void ParseRbdVolumeOptions(VolumeSpec& spec, const Options& options, const BackendConfig& backend) {
  auto get = [&](const std::string& key) { return OptionValue(options, key); };
  for (const char* key : {"subdir", "uid", "gid", "mode", "on_remove"}) {
    if (options.contains(key)) {
      throw InvalidArgument(std::string("option '") + key + "' applies to nfs backends only");
    }
  }
  spec.pool = get("pool").value_or(StringSetting(backend, "pool", "rbd"));
  ValidateCephName("pool", spec.pool);
  spec.adopted = get("image").has_value();
  spec.image = get("image").value_or(spec.name);
  ValidateCephName("image", spec.image);
  spec.features =
      get("features").value_or(StringSetting(backend, "features", rbd::kDefaultFeatures));
  rbd::ParseFeatures(spec.features);
  if (auto object_size = get("object_size")) {
    spec.object_size = ParseSize(*object_size);
  }
  rbd::ObjectSizeOrder(spec.object_size);
}

}  // namespace berth::engine
