// berthctl: the operator's command line for berth volumes, snapshots and locks.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string_view>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "common/error.h"
#include "common/log.h"
#include "common/version.h"

namespace {

// A bash completion script for the command tree, read from the CLI11 app itself.
std::string BashCompletion(const CLI::App& app) {
  std::string cases;
  std::string top;
  for (const auto* sub : app.get_subcommands({})) {
    top += sub->get_name() + " ";
    std::string words;
    for (const auto* leaf : sub->get_subcommands({})) {
      words += leaf->get_name() + " ";
    }
    if (!words.empty()) {
      cases += "    " + sub->get_name() + ") COMPREPLY=($(compgen -W \"" + words +
               "\" -- \"$cur\")); return ;;\n";
    }
  }
  return "# bash completion for berthctl: source <(berthctl completion bash)\n"
         "_berthctl() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]}\n"
         "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
         "    COMPREPLY=($(compgen -W \"" +
         top +
         "--help --json --config\" -- \"$cur\")); return\n"
         "  fi\n"
         "  if [ \"$COMP_CWORD\" -eq 2 ]; then\n"
         "    case ${COMP_WORDS[1]} in\n" +
         cases +
         "    esac\n"
         "  fi\n"
         "}\n"
         "complete -F _berthctl berthctl\n";
}

// The first word of the command line that names no command where one is due, described for
// the user ("unknown command 'volum'; berthctl's commands: volume, snapshot, ..."); empty when
// every command word is known. CLI11 says only "A subcommand is required" there.
std::string UnknownCommand(const CLI::App& app, int argc, char** argv) {
  const CLI::App* current = &app;
  std::string path = "berthctl";
  for (int i = 1; i < argc; ++i) {
    const std::string_view word = argv[i];
    if (word.starts_with("-")) {
      if ((word == "--config" || word == "--log-level") && i + 1 < argc) {
        ++i;  // its value
      }
      continue;
    }
    const auto subcommands = current->get_subcommands({});
    if (subcommands.empty()) {
      return "";  // a leaf: the rest are its arguments
    }
    const auto named = std::find_if(subcommands.begin(), subcommands.end(),
                                    [&](const CLI::App* sub) { return sub->get_name() == word; });
    if (named == subcommands.end()) {
      std::string names;
      for (const auto* sub : subcommands) {
        names += (names.empty() ? "" : ", ") + sub->get_name();
      }
      return "unknown command '" + std::string(word) + "'; " + path + "'s commands: " + names;
    }
    current = *named;
    path += " " + current->get_name();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  berth::cli::Context ctx;
  CLI::App app{
      "berthctl: manage berth volumes, snapshots and locks on Ceph RBD and NFS.\n"
      "Exit codes: 0 ok, 2 invalid argument (a bad command line included), 3 not found,\n"
      "4 busy, 5 conflict, 6 backend unavailable, 7 health problems remain, 8 permission\n"
      "denied, 9 deadline exceeded, 1 internal error."};
  app.require_subcommand(1);
  // --config, --json and --log-level belong to berthctl but work anywhere on the line
  // (`berthctl volume ls --json`): a subcommand passes what it does not know up to its parent.
  // Subcommands made after this line inherit it.
  app.fallthrough();
  app.add_option("--config", ctx.config_path,
                 "config file (default: $BERTH_CONFIG, else /etc/berth/berth.json)");
  app.add_option("--log-level", ctx.log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_flag("--json", ctx.json, "print JSON instead of tables");

  berth::cli::AddVolumeCommands(app, ctx);
  berth::cli::AddSnapshotCommands(app, ctx);
  berth::cli::AddLockCommands(app, ctx);
  berth::cli::AddHostCommands(app, ctx);
  int exit_code = 0;
  berth::cli::AddHealthCommand(app, ctx, exit_code);
  auto* completion = app.add_subcommand("completion", "print a shell completion script");
  std::string shell = "bash";
  completion->add_option("shell", shell, "bash")->check(CLI::IsMember({"bash"}));
  completion->callback([&] { ctx.run = [&] { std::cout << BashCompletion(app); }; });
  app.set_version_flag("--version", berth::VersionLine("berthctl"));
  auto* version = app.add_subcommand("version", "print berthctl's version");
  version->add_flag("--json", ctx.json, "print {\"version\": ..., \"commit\": ...}");
  version->callback([&ctx] {
    ctx.run = [&ctx] {
      if (ctx.json) {
        berth::cli::PrintJson({{"version", std::string(berth::kVersion)},
                               {"commit", std::string(berth::kGitCommit)}});
      } else {
        std::cout << berth::VersionLine("berthctl") << "\n";
      }
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    // A bad command line is an invalid argument (exit 2), as the README documents, not CLI11's
    // own codes; with --json anywhere on the line the error is JSON too.
    std::string message = UnknownCommand(app, argc, argv);
    if (message.empty()) {
      message = e.what();
    }
    const bool json = std::any_of(
        argv + 1, argv + argc, [](const char* arg) { return std::string_view(arg) == "--json"; });
    if (json) {
      berth::cli::PrintJson(
          {{"error", message},
           {"category", std::string(berth::ErrorCodeName(berth::ErrorCode::kInvalidArgument))}});
    }
    std::cerr << "berthctl: " << message << "\n"
              << "Run with --help for the commands and their options.\n";
    return berth::cli::ExitCodeFor(berth::ErrorCode::kInvalidArgument);
  }

  spdlog::set_default_logger(spdlog::stderr_color_mt("berthctl"));
  try {
    berth::SetLogLevel(ctx.log_level);
    if (ctx.run) {
      ctx.run();
    }
    return exit_code;
  } catch (const berth::Error& e) {
    if (ctx.json) {
      berth::cli::PrintJson(
          {{"error", e.what()}, {"category", std::string(berth::ErrorCodeName(e.code()))}});
    }
    std::cerr << "berthctl: " << e.what() << "\n";
    return berth::cli::ExitCodeFor(e.code());
  } catch (const std::exception& e) {
    if (ctx.json) {
      berth::cli::PrintJson({{"error", e.what()}, {"category", "internal"}});
    }
    std::cerr << "berthctl: internal error: " << e.what() << "\n";
    return 1;
  }
}
