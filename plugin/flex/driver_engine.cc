#include "plugin/flex/driver_engine.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "plugin/flex/replies.h"

namespace berth::flex {

std::vector<std::filesystem::path> DriverEngineCandidates(const std::filesystem::path& exe) {
  const std::filesystem::path dir = exe.parent_path();
  return {dir / kDriverEngineName,
          (dir / ".." / "libexec" / "berth" / kDriverEngineName).lexically_normal()};
}

std::vector<std::string> DriverEngineArgs(const std::filesystem::path& engine,
                                          const FlexInvocation& call) {
  std::vector<std::string> args{engine.string(), "--driver", call.driver_name};
  if (!call.config_path.empty()) {
    args.insert(args.end(), {"--config", call.config_path});
  }
  if (!call.log_file.empty()) {
    args.insert(args.end(), {"--log-file", call.log_file});
  }
  args.insert(args.end(), call.args.begin(), call.args.end());
  return args;
}

nlohmann::json ExecDriverEngine(const FlexInvocation& call) {
  std::error_code ec;
  // The real file, not argv[0]: kubelet runs the driver by its path in the plugin directory,
  // and a symlink to berth-flex must still find the engine beside the target.
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return FailureReply("cannot find berth-flex's own executable (/proc/self/exe): " +
                        ec.message());
  }
  std::string tried;
  for (const auto& engine : DriverEngineCandidates(exe)) {
    const std::vector<std::string> args = DriverEngineArgs(engine, call);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (const auto& arg : args) {
      argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    // The reply goes where berth-flex's would have: the engine takes its stdout as the reply.
    const int saved_stdout = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    ::dup2(call.reply_fd, STDOUT_FILENO);
    ::execv(argv[0], argv.data());
    const int error = errno;
    if (saved_stdout >= 0) {
      ::dup2(saved_stdout, STDOUT_FILENO);
      ::close(saved_stdout);
    }
    tried += (tried.empty() ? "" : ", ") + engine.string() + " (" +
             std::error_code(error, std::generic_category()).message() + ")";
  }
  return FailureReply(
      "cannot run berth-flex-driver, which berth-flex runs for every call but init; tried " +
      tried + ". Install berth-flex and berth-flex-driver side by side (install.sh does)");
}

}  // namespace berth::flex
