// Fuzzes volume options: names, sizes, every option ParseVolumeSpec knows, and the differences
// a repeated Create reports. Input: the volume name on the first line, then `key=value` lines;
// a `---` line starts the options of a repeated Create of the same volume.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/strings.h"
#include "engine/volume_spec.h"
#include "tests/fuzz/fuzz_checks.h"

namespace berth::fuzz {
namespace {

std::optional<engine::VolumeSpec> TrySpec(const std::string& name, const engine::Options& options) {
  try {
    auto spec = engine::ParseVolumeSpec(name, options, FixedConfig());
    CheckSpec(spec, options);
    return spec;
  } catch (const Error& e) {
    Require(e.code() == ErrorCode::kInvalidArgument);
    return std::nullopt;
  }
}

void CheckSize(const std::string& text) {
  uint64_t bytes = 0;
  try {
    bytes = engine::ParseSize(text);
  } catch (const Error& e) {
    Require(e.code() == ErrorCode::kInvalidArgument);
    return;
  }
  CheckSizeRoundTrip(bytes);
}

void CheckOptions(const std::string& input) {
  const auto lines = Split(input, '\n');
  const std::string& name = lines.front();
  try {
    engine::ValidateVolumeName(name);
    CheckAcceptedName(name);
  } catch (const Error& e) {
    Require(e.code() == ErrorCode::kInvalidArgument);
  }
  engine::Options first;
  engine::Options repeated;
  engine::Options* options = &first;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i] == "---") {
      options = &repeated;
      continue;
    }
    const size_t equals = lines[i].find('=');
    const std::string key = lines[i].substr(0, equals);
    const std::string value = equals == std::string::npos ? "" : lines[i].substr(equals + 1);
    (*options)[key] = value;
    CheckSize(value);
  }
  const auto existing = TrySpec(name, first);
  const auto requested = TrySpec(name, repeated);
  if (!existing || !requested) {
    return;
  }
  const auto diffs = engine::SpecDifferences(*existing, repeated, *requested);
  for (const auto& diff : diffs) {
    // Each difference names an option the repeated Create gave.
    Require(repeated.contains(diff.substr(0, diff.find(' '))));
  }
  if (engine::SpecToJson(*existing) == engine::SpecToJson(*requested)) {
    Require(diffs.empty());
  }
}

}  // namespace
}  // namespace berth::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::fuzz::CheckOptions(berth::fuzz::AsString(data, size));
  return 0;
}
