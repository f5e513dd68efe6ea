#include "plugin/flex/berthd_request.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "common/error.h"

namespace berth::flex {

namespace {

constexpr std::string_view kSecretPrefix = "kubernetes.io/secret/";

std::string StringField(const nlohmann::json& json, const char* field) {
  const auto it = json.find(field);
  if (it == json.end() || !it->is_string()) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("a Berth.Flex request needs a string \"") + field + "\"");
  }
  return it->get<std::string>();
}

}  // namespace

std::string EncodeBerthdFlexRequest(const BerthdFlexRequest& request) {
  return nlohmann::json{{"Driver", request.driver},
                        {"Args", request.args},
                        {"Config", request.config_path},
                        {"MountNamespace", request.mount_namespace}}
      .dump();
}

BerthdFlexRequest DecodeBerthdFlexRequest(const std::string& body) {
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    throw Error(ErrorCode::kInvalidArgument,
                "a Berth.Flex request is one JSON object: {\"Driver\": ..., \"Args\": [...], "
                "\"Config\": ...}");
  }
  BerthdFlexRequest request{StringField(json, "Driver"),
                            {},
                            StringField(json, "Config"),
                            StringField(json, "MountNamespace")};
  const auto args = json.find("Args");
  if (args == json.end() || !args->is_array() ||
      !std::all_of(args->begin(), args->end(), [](const auto& a) { return a.is_string(); })) {
    throw Error(ErrorCode::kInvalidArgument,
                "a Berth.Flex request needs \"Args\": an array of strings, kubelet's arguments");
  }
  request.args = args->get<std::vector<std::string>>();
  return request;
}

std::string ThisMountNamespace() {
  std::error_code ec;
  const auto target = std::filesystem::read_symlink("/proc/self/ns/mnt", ec);
  return ec ? "" : target.string();
}

bool GoesToBerthd(const FlexCall& call) {
  if (call.verb == "init") {
    return false;
  }
  if (call.options) {
    for (const auto& [key, value] : *call.options) {
      if (key.starts_with(kSecretPrefix)) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace berth::flex
