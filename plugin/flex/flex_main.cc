#include "plugin/flex/flex_main.h"

#include <fcntl.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "common/error.h"
#include "common/version.h"
#include "plugin/flex/call.h"
#include "plugin/flex/replies.h"

namespace berth::flex {

namespace {

// Where the reply goes: the original stdout. Everything else the process or its children
// print lands in the log (or /dev/null), so the reply stays the only output.
int TakeOverOutput(const std::string& log_file) {
  const int reply_fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  int sink = log_file.empty()
                 ? -1
                 : ::open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (sink < 0) {
    sink = ::open("/dev/null", O_WRONLY | O_CLOEXEC);  // never kubelet's pipe
  }
  if (sink >= 0) {
    ::dup2(sink, STDOUT_FILENO);
    ::dup2(sink, STDERR_FILENO);
    ::close(sink);
  }
  return reply_fd;
}

void SetUpLogging(const std::string& log_file) {
  try {
    if (log_file.empty()) {
      spdlog::set_default_logger(
          spdlog::syslog_logger_mt("berth-flex", "berth-flex", LOG_PID, LOG_DAEMON));
    } else {
      spdlog::set_default_logger(spdlog::basic_logger_mt("berth-flex", log_file));
    }
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %P %l %v");
    spdlog::flush_on(spdlog::level::info);
  } catch (const spdlog::spdlog_ex&) {
    // No log is better than output kubelet cannot parse.
    spdlog::set_level(spdlog::level::off);
  }
}

int Reply(int fd, const nlohmann::json& reply) {
  // A message may quote a tool's output in any encoding: replace, never throw.
  const std::string text =
      reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  return reply.value("status", "") == "Success" ? 0 : 1;
}

}  // namespace

void LogCall(const FlexInvocation& call) {
  std::string described;
  for (const auto& arg : call.args) {
    described += (described.empty() ? "" : " ") + (arg.starts_with("{") ? "<options>" : arg);
  }
  spdlog::info("{}: {}", call.driver_name, described);
}

int FlexMain(int argc, char** argv, const std::string& program, const std::string& description,
             const FlexRunner& run) {
  const char* env_log = std::getenv("BERTH_FLEX_LOG");
  std::string log_file = env_log != nullptr ? env_log : "";
  // The log file must be known before anything can print, so it is read ahead of CLI11.
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--log-file") {
      log_file = argv[i + 1];
    }
  }
  const int reply_fd = TakeOverOutput(log_file);
  SetUpLogging(log_file);

  CLI::App app{description};
  std::string driver_name;
  std::string config_path;
  app.add_option("--driver", driver_name, "rbd, rbd-node or nfs (default: the executable's name)");
  app.add_option("--config", config_path,
                 "config file (default: $BERTH_CONFIG, else /etc/berth/berth.json)");
  app.add_option("--log-file", log_file,
                 "log file (default: $BERTH_FLEX_LOG, else syslog); never stdout or stderr");
  // Not a kubelet verb, so plain text: kubelet never asks for it.
  app.set_version_flag("--version", VersionLine(program));
  app.prefix_command();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    const std::string help = app.help();
    return ::write(reply_fd, help.data(), help.size()) < 0 ? 1 : 0;
  } catch (const CLI::CallForVersion& e) {
    const std::string version = std::string(e.what()) + "\n";
    return ::write(reply_fd, version.data(), version.size()) < 0 ? 1 : 0;
  } catch (const CLI::ParseError& e) {
    return Reply(reply_fd, FailureReply(std::string("bad arguments: ") + e.what()));
  }
  if (driver_name.empty()) {
    driver_name = std::filesystem::path(argv[0]).filename().string();
  }
  const std::optional<DriverKind> kind = ParseDriverName(driver_name);
  if (!kind) {
    return Reply(reply_fd, FailureReply("unknown driver '" + driver_name +
                                        "'; install berth-flex as berth~rbd/rbd, "
                                        "berth~rbd-node/rbd-node or berth~nfs/nfs, or pass "
                                        "--driver rbd|rbd-node|nfs"));
  }
  const FlexInvocation call{*kind, driver_name, app.remaining(), config_path, log_file, reply_fd};
  nlohmann::json reply;
  try {
    reply = run(call);
  } catch (const Error& e) {
    const bool unknown_verb = !call.args.empty() && !IsKnownVerb(call.args[0]);
    reply = unknown_verb ? NotSupportedReply(e.what()) : FailureReply(e.what());
  } catch (const std::exception& e) {
    reply = FailureReply(std::string("internal error: ") + e.what());
  }
  spdlog::info("{}: {} -> {}{}", driver_name, call.args.empty() ? "" : call.args[0],
               reply.value("status", ""),
               reply.contains("message") ? ": " + reply["message"].get<std::string>() : "");
  return Reply(reply_fd, reply);
}

}  // namespace berth::flex
