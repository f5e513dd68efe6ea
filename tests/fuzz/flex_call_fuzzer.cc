// Fuzzes what berth-flex does with kubelet's command line before the engine runs: the verb,
// its argument count and paths, the options JSON, the options' meaning for each driver
// (secrets in base64 among them), and the spec a creating call would ask for.
// Input: the arguments after the executable, separated by NUL bytes ("mount\0/var/...\0{...}").
#include <boost/beast/core/detail/base64.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/strings.h"
#include "engine/volume_spec.h"
#include "plugin/flex/call.h"
#include "plugin/flex/volume_request.h"
#include "tests/fuzz/fuzz_checks.h"

namespace berth::fuzz {
namespace {

constexpr std::string_view kSecretPrefix = "kubernetes.io/secret/";

// Whether decoding, encoding again and decoding gives the same bytes.
void CheckBase64(const std::string& text) {
  namespace b64 = boost::beast::detail::base64;
  std::string decoded;
  try {
    decoded = flex::DecodeBase64(text);
  } catch (const Error& e) {
    Require(e.code() == ErrorCode::kInvalidArgument);
    return;
  }
  std::string encoded(b64::encoded_size(decoded.size()), '\0');
  encoded.resize(b64::encode(encoded.data(), decoded.data(), decoded.size()));
  Require(MustSucceed([&] { return flex::DecodeBase64(encoded); }) == decoded);
}

bool IsBase64(const std::string& text) {
  return text.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
         std::string::npos;
}

// Error messages never contain secret values. Only long base64 values that appear nowhere else
// in the options are checked: a short one, or one also given as another key or value, may show
// up in a message by coincidence or by quoting that other option.
void CheckNoSecretIn(const std::string& message, const flex::FlexOptions& options) {
  for (const auto& [key, value] : options) {
    if (!key.starts_with(kSecretPrefix) || value.size() < 16 || !IsBase64(value)) {
      continue;
    }
    bool elsewhere = false;
    for (const auto& [other_key, other_value] : options) {
      elsewhere = elsewhere || other_key.find(value) != std::string::npos ||
                  (other_key != key && other_value.find(value) != std::string::npos);
    }
    Require(elsewhere || message.find(value) == std::string::npos);
  }
}

// The backend EnsureVolume would create on: option `backend` if it names one of the driver's
// type, else the first of that type.
std::string BackendFor(flex::DriverKind driver, const flex::VolumeRequest& request) {
  const std::string type = driver == flex::DriverKind::kRbd ? "rbd" : "nfs";
  const auto& backends = FixedConfig().backends;
  if (auto it = request.create_options.find("backend"); it != request.create_options.end()) {
    auto backend = backends.find(it->second);
    if (backend != backends.end() && backend->second.type == type) {
      return it->second;
    }
  }
  return type;
}

void CheckVolumeRequest(flex::DriverKind driver, const flex::FlexOptions& options) {
  flex::VolumeRequest request;
  try {
    request = flex::ParseVolumeRequest(driver, options);
  } catch (const Error& e) {
    Require(e.code() == ErrorCode::kInvalidArgument);
    CheckNoSecretIn(e.what(), options);
    return;
  }
  CheckAcceptedName(request.name);
  Require(request.key.empty() || !request.user.empty());
  if (auto size = request.create_options.find("size"); size != request.create_options.end()) {
    MustSucceed([&] { return engine::ParseSize(size->second); });
  }
  engine::Options create = request.create_options;
  create["backend"] = BackendFor(driver, request);
  try {
    CheckSpec(engine::ParseVolumeSpec(request.name, create, FixedConfig()), create);
  } catch (const Error& e) {
    Require(e.code() == ErrorCode::kInvalidArgument);
    CheckNoSecretIn(e.what(), options);
  }
}

void CheckCall(const std::vector<std::string>& args) {
  for (const auto& arg : args) {
    CheckBase64(arg);
  }
  flex::FlexCall call;
  try {
    call = flex::ParseCall(args);
  } catch (const Error& e) {
    // Only an unknown verb is "Not supported"; everything else is a malformed call.
    const bool known = !args.empty() && flex::IsKnownVerb(args[0]);
    Require(e.code() ==
            (known || args.empty() ? ErrorCode::kInvalidArgument : ErrorCode::kNotFound));
    return;
  }
  Require(flex::IsKnownVerb(call.verb));
  for (const std::string* path : {&call.target_path, &call.device_mount_path}) {
    Require(path->empty() || path->front() == '/' || call.verb == "expandvolume");
  }
  if (call.verb == "mount" || call.verb == "unmount") {
    Require(!call.target_path.empty());
  }
  if (!call.options) {
    return;
  }
  CheckVolumeRequest(flex::DriverKind::kRbd, *call.options);
  CheckVolumeRequest(flex::DriverKind::kNfs, *call.options);
}

}  // namespace
}  // namespace berth::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  if (size > 0) {
    args = berth::Split(berth::fuzz::AsString(data, size), '\0');
  }
  berth::fuzz::CheckCall(args);
  return 0;
}
