// Fuzzes what berthd does with a request before the engine runs: the endpoint from the HTTP
// target, the body's decoding and validation, and for Create the volume spec from its Opts.
// Input: the target on the first line, the body after it ("/VolumeDriver.Create\n{...}").
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "engine/volume_spec.h"
#include "plugin/docker/protocol.h"
#include "tests/fuzz/fuzz_checks.h"

namespace berth::fuzz {
namespace {

void CheckRequest(const std::string& target, const std::string& body) {
  const auto endpoint = docker::ParseEndpoint(target);
  if (!endpoint || !docker::TakesVolume(*endpoint)) {
    return;
  }
  docker::VolumeRequest request;
  try {
    request = docker::ParseVolumeRequest(*endpoint, body);
  } catch (const Error& e) {
    Require(e.code() == ErrorCode::kInvalidArgument);
    return;
  }
  const bool mounts =
      *endpoint == docker::Endpoint::kMount || *endpoint == docker::Endpoint::kUnmount;
  Require(mounts != request.id.empty());
  Require(*endpoint == docker::Endpoint::kCreate || request.options.empty());

  try {
    engine::ValidateVolumeName(request.name);
  } catch (const Error& e) {
    Require(e.code() == ErrorCode::kInvalidArgument);
    return;
  }
  CheckAcceptedName(request.name);
  if (*endpoint != docker::Endpoint::kCreate) {
    return;
  }
  engine::VolumeSpec spec;
  try {
    spec = engine::ParseVolumeSpec(request.name, request.options, FixedConfig());
  } catch (const Error& e) {
    Require(e.code() == ErrorCode::kInvalidArgument);
    return;
  }
  CheckSpec(spec, request.options);
}

}  // namespace
}  // namespace berth::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input = berth::fuzz::AsString(data, size);
  const size_t newline = input.find('\n');
  if (newline == std::string::npos) {
    berth::fuzz::CheckRequest(input, "");
  } else {
    berth::fuzz::CheckRequest(input.substr(0, newline), input.substr(newline + 1));
  }
  return 0;
}
