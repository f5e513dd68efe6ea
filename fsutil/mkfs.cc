#include "fsutil/mkfs.h"

#include <spdlog/spdlog.h>

#include <span>
#include <string_view>

#include "common/error.h"
#include "common/subprocess.h"
#include "fsutil/tool_output.h"

namespace berth::fsutil {

namespace {

// How mkfs treats one short option letter. User options come from volume options, which a pod
// author or any Docker user controls, so only options that shape the new filesystem are
// allowed: anything that forces, reads or writes other host paths or devices, or makes mkfs a
// no-op (after which the ledger would record a filesystem that does not exist) is refused.
struct OptionRule {
  char letter;
  bool takes_value;
  std::string_view refusal;  // empty: allowed
  // A sub-option (key or key=value in a comma-separated value) that names another device.
  std::string_view refused_key{};
};

constexpr std::string_view kForce =
    "it forces mkfs over an existing signature, and berth formats only devices that probe blank";
constexpr std::string_view kNoop = "it makes mkfs exit without creating a filesystem";
constexpr std::string_view kHostPath = "it makes mkfs read or write files on the host";

// mke2fs(8) getopt string: "b:cd:e:g:i:jl:m:no:qr:s:t:vC:DE:FG:I:J:KL:M:N:O:R:ST:U:Vz:".
constexpr OptionRule kExt4Rules[] = {
    {'b', true, {}},
    {'c', false, {}},
    {'d', true, kHostPath},
    {'e', true, {}},
    {'f', true, kForce},
    {'g', true, {}},
    {'i', true, {}},
    {'j', false, {}},
    {'l', true, kHostPath},
    {'m', true, {}},
    {'n', false, kNoop},
    {'o', true, {}},
    {'q', false, {}},
    {'r', true, {}},
    {'s', true, {}},
    {'t', true, "the filesystem type comes from the volume's fstype option"},
    {'v', false, {}},
    {'z', true, kHostPath},
    {'C', true, {}},
    {'D', false, {}},
    {'E', true, {}},
    {'F', false, kForce},
    {'G', true, {}},
    {'I', true, {}},
    {'J', true, {}, "device"},
    {'K', false, {}},
    {'L', true, {}},
    {'M', true, {}},
    {'N', true, {}},
    {'O', true, {}},
    {'R', true, {}},
    {'S', false, "it rewrites only the superblock and group descriptors"},
    {'T', true, {}},
    {'U', true, {}},
    {'V', false, kNoop},
};
constexpr std::string_view kExt4Defaults[] = {"-E",
                                              "nodiscard,lazy_itable_init=1,lazy_journal_init=1"};

// mkfs.xfs(8) getopt string: "b:c:d:fi:l:L:m:n:KNp:qr:s:CV".
constexpr OptionRule kXfsRules[] = {
    {'b', true, {}},        {'c', true, kHostPath}, {'d', true, {}, "name"},   {'f', false, kForce},
    {'F', false, kForce},   {'i', true, {}},        {'l', true, {}, "logdev"}, {'L', true, {}},
    {'m', true, {}},        {'n', true, {}},        {'K', false, {}},          {'N', false, kNoop},
    {'p', true, kHostPath}, {'q', false, {}},       {'r', true, {}, "rtdev"},  {'s', true, {}},
    {'V', false, kNoop},
};
constexpr std::string_view kXfsDefaults[] = {"-K"};

struct ToolSpec {
  std::string_view fstype;
  std::string_view program;
  std::span<const std::string_view> defaults;
  std::span<const OptionRule> rules;
};

constexpr ToolSpec kTools[] = {
    {"ext4", "mkfs.ext4", kExt4Defaults, kExt4Rules},
    {"xfs", "mkfs.xfs", kXfsDefaults, kXfsRules},
};

const ToolSpec* FindTool(const std::string& fstype) {
  for (const ToolSpec& tool : kTools) {
    if (tool.fstype == fstype) {
      return &tool;
    }
  }
  return nullptr;
}

const OptionRule* FindRule(const ToolSpec& tool, char letter) {
  for (const OptionRule& rule : tool.rules) {
    if (rule.letter == letter) {
      return &rule;
    }
  }
  return nullptr;
}

Error Refuse(const std::string& option, const ToolSpec& tool, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument, "mkfs option '" + option + "' is not allowed for " +
                                                std::string(tool.program) + ": " +
                                                std::string(why));
}

void CheckValue(const ToolSpec& tool, const OptionRule& rule, const std::string& value) {
  std::string_view rest = value;
  while (true) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    std::string_view key = item.substr(0, item.find('='));
    if (!rule.refused_key.empty() && key == rule.refused_key) {
      throw Refuse(std::string("-") + rule.letter + " " + value, tool,
                   std::string(rule.refused_key) + "= names another host device or file");
    }
    if (comma == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(comma + 1);
  }
}

// Walks user options the way getopt(3) would, so a force flag hidden in a cluster ("-qF") is
// found while a letter inside an option's value ("-LFiles") is not mistaken for one.
void ValidateUserOptions(const ToolSpec& tool, const std::vector<std::string>& options) {
  for (size_t i = 0; i < options.size(); ++i) {
    const std::string& arg = options[i];
    if (arg.starts_with("--")) {
      throw Refuse(
          arg, tool,
          arg.starts_with("--f") ? kForce : std::string_view("long options are not supported"));
    }
    if (arg.size() < 2 || arg[0] != '-') {
      throw Error(ErrorCode::kInvalidArgument,
                  "mkfs option '" + arg +
                      "' is not an option; berth chooses the device itself, so mkfs_options may "
                      "contain only options such as -L label or -O feature");
    }
    for (size_t pos = 1; pos < arg.size(); ++pos) {
      const char letter = arg[pos];
      const OptionRule* rule = FindRule(tool, letter);
      if (rule == nullptr) {
        throw Refuse(std::string("-") + letter, tool, "unknown or unsupported option");
      }
      if (!rule->refusal.empty()) {
        throw Refuse(std::string("-") + letter, tool, rule->refusal);
      }
      if (!rule->takes_value) {
        continue;
      }
      std::string value;
      if (pos + 1 < arg.size()) {
        value = arg.substr(pos + 1);
      } else if (i + 1 < options.size()) {
        value = options[++i];
      } else {
        throw Error(ErrorCode::kInvalidArgument, std::string("mkfs option -") + letter + " for " +
                                                     std::string(tool.program) + " needs a value");
      }
      CheckValue(tool, *rule, value);
      break;
    }
  }
}

}  // namespace

bool IsSupportedFilesystem(const std::string& fstype) { return FindTool(fstype) != nullptr; }

std::vector<std::string> MkfsCommand(const std::string& fstype, const std::string& device,
                                     const std::vector<std::string>& user_options) {
  const ToolSpec* tool = FindTool(fstype);
  if (tool == nullptr) {
    throw Error(ErrorCode::kInvalidArgument,
                "filesystem type '" + fstype + "' is not supported; use ext4 or xfs");
  }
  ValidateUserOptions(*tool, user_options);
  std::vector<std::string> argv{std::string(tool->program)};
  argv.insert(argv.end(), tool->defaults.begin(), tool->defaults.end());
  argv.insert(argv.end(), user_options.begin(), user_options.end());
  argv.push_back(device);
  return argv;
}

void MakeFilesystem(const std::string& fstype, const std::string& device,
                    const std::vector<std::string>& user_options) {
  const auto argv = MkfsCommand(fstype, device, user_options);
  spdlog::info("creating {} filesystem on {}: {}", fstype, device, JoinCommand(argv));
  const CommandResult result = RunCommand(argv);
  if (result.exit_code != 0) {
    std::string hint = user_options.empty() ? "" : "; check the volume's mkfs_options";
    throw Error(ErrorCode::kInternal, "cannot create a " + fstype + " filesystem on " + device +
                                          ": " + argv[0] + " exited with status " +
                                          std::to_string(result.exit_code) + ": " +
                                          SummarizeToolOutput(result.out, result.err) + hint);
  }
}

}  // namespace berth::fsutil
