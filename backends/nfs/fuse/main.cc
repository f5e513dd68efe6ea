// berth-nfs-fuse: mounts an NFSv3 export (or a directory in it) through libnfs and FUSE, for
// hosts whose kernel cannot mount NFS. berth starts it detached; it stays in the foreground,
// and unmounts and exits on SIGTERM, SIGINT or `fusermount3 -u MOUNTPOINT`.
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "backends/nfs/fuse/context_pool.h"
#include "backends/nfs/fuse/filesystem.h"
#include "common/error.h"
#include "common/log.h"
#include "common/version.h"
#include "fsutil/mountinfo.h"

namespace {

struct Options {
  std::string url;
  int timeout_ms = 10000;
  unsigned threads = 4;
  unsigned readahead_kib = 1024;
  unsigned write_behind_kib = 4096;
  bool read_only = false;
  bool suid = false;
  std::string log_file;
  std::string log_level = "info";
  std::string mountpoint;
};

struct FuseDeleter {
  void operator()(fuse* f) const { fuse_destroy(f); }
};
struct LoopConfigDeleter {
  void operator()(fuse_loop_config* config) const { fuse_loop_cfg_destroy(config); }
};

// Unmounts when the loop ends for any reason, including an exception on the way out.
class MountGuard {
 public:
  explicit MountGuard(fuse* f) : fuse_(f) {}
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  ~MountGuard() { fuse_unmount(fuse_); }

 private:
  fuse* fuse_;
};

class SignalGuard {
 public:
  explicit SignalGuard(fuse_session* session) : session_(session) {
    if (fuse_set_signal_handlers(session_) != 0) {
      throw berth::Error(berth::ErrorCode::kInternal, "cannot install signal handlers");
    }
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
  ~SignalGuard() { fuse_remove_signal_handlers(session_); }

 private:
  fuse_session* session_;
};

// The URL without its query: mountinfo shows it as the source, and its ports mean nothing there.
std::string FsName(const std::string& url) {
  std::string name = url.substr(0, url.find('?'));
  // Commas separate mount options; a URL path with one would split the option.
  for (char& c : name) {
    if (c == ',') {
      c = '_';
    }
  }
  return name;
}

void SetUpLogging(const Options& options) {
  if (!options.log_file.empty()) {
    auto logger = spdlog::basic_logger_mt("berth-nfs-fuse", options.log_file);
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  berth::SetLogLevel(options.log_level);
}

// The kernel reads ahead of a sequential reader by its bdi's window, 128 KiB unless told
// otherwise, and FUSE can only lower it, at INIT. One READ of 1 MiB costs about what one of
// 128 KiB does, so the window is raised through sysfs, for this mount's bdi ("MAJOR:MINOR"),
// once INIT is done (an earlier setting would be lowered again by INIT): Filesystem runs this
// in the first request it serves. It reads mountinfo, never the mount itself, which would be a
// request to this very process. A failure only costs speed: warned about, not fatal.
void SetReadahead(const std::string& mountpoint, unsigned kib) {
  if (kib == 0) {
    return;
  }
  std::error_code error;
  const std::string target = std::filesystem::canonical(mountpoint, error).string();
  const auto mount =
      berth::fsutil::FindMount(berth::fsutil::ReadMountInfo(), error ? mountpoint : target);
  if (!mount) {
    spdlog::warn("readahead left as it is: {} is not in /proc/self/mountinfo", mountpoint);
    return;
  }
  const std::string knob = "/sys/class/bdi/" + mount->device_number + "/read_ahead_kb";
  std::ofstream out(knob);
  out << kib << '\n';
  out.flush();
  if (!out) {
    spdlog::warn("readahead left as it is: cannot write {}", knob);
    return;
  }
  spdlog::debug("readahead {} KiB ({})", kib, knob);
}

int Serve(const Options& options) {
  berth::nfs::ContextPool pool(
      {.url = options.url, .timeout = std::chrono::milliseconds(options.timeout_ms)},
      options.threads);
  // Mount one context before the FUSE mount, so a wrong URL or a dead server is a clear
  // start-up error instead of a mountpoint whose every call fails.
  berth::nfs::FileHandle root;
  uint64_t read_max = 0;
  uint64_t write_max = 0;
  {
    auto probe = pool.Acquire();
    root = probe.calls().Root();
    read_max = nfs_get_readmax(probe.get());
    write_max = nfs_get_writemax(probe.get());
  }

  berth::nfs::Filesystem filesystem(pool, std::move(root),
                                    {.read_only = options.read_only,
                                     .write_behind_bytes = size_t{options.write_behind_kib} << 10,
                                     .on_first_request = [&options] {
                                       SetReadahead(options.mountpoint, options.readahead_kib);
                                     }});
  const fuse_operations ops = berth::nfs::Filesystem::Operations();

  // allow_other: berth mounts as root for containers running as any user. No
  // default_permissions: the NFS server checks each caller's credentials (AUTH_SYS carries
  // them, see ContextPool::Lease::Impersonate), and checking here too from 1 s old cached
  // modes would only disagree with it.
  // nodev always, nosuid unless the volume allows set-user-ID binaries: said explicitly, not
  // left to libfuse's defaults.
  std::string mount_options = "allow_other,fsname=" + FsName(options.url) + ",subtype=berth-nfs" +
                              ",nodev," + (options.suid ? "suid" : "nosuid");
  if (options.read_only) {
    mount_options += ",ro";
  }
  std::vector<std::string> arguments = {"berth-nfs-fuse", "-o", mount_options};
  std::vector<char*> argv;
  argv.reserve(arguments.size());
  for (auto& argument : arguments) {
    argv.push_back(argument.data());
  }
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  const std::unique_ptr<fuse, FuseDeleter> f(fuse_new(&args, &ops, sizeof(ops), &filesystem));
  if (!f) {
    throw berth::Error(berth::ErrorCode::kInternal, "fuse_new failed (see the message above)");
  }
  if (fuse_mount(f.get(), options.mountpoint.c_str()) != 0) {
    throw berth::Error(
        berth::ErrorCode::kUnavailable,
        "cannot mount FUSE on " + options.mountpoint + " (is /dev/fuse there and are we root?)");
  }
  const MountGuard mounted(f.get());
  const SignalGuard signals(fuse_get_session(f.get()));

  const std::unique_ptr<fuse_loop_config, LoopConfigDeleter> loop(fuse_loop_cfg_create());
  if (!loop) {
    throw berth::Error(berth::ErrorCode::kInternal, "cannot allocate the FUSE loop config");
  }
  // As many workers as contexts, kept alive while idle so they do not churn.
  fuse_loop_cfg_set_max_threads(loop.get(), options.threads);
  fuse_loop_cfg_set_idle_threads(loop.get(), options.threads);

  spdlog::info("serving {} on {} with {} threads, READ up to {} and WRITE up to {} bytes{}",
               FsName(options.url), options.mountpoint, options.threads, read_max, write_max,
               options.read_only ? " (read-only)" : "");
  const int rc = fuse_loop_mt(f.get(), loop.get());
  spdlog::info("unmounting {}", options.mountpoint);
  return rc == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"berth-nfs-fuse: an NFSv3 export as a FUSE filesystem, through libnfs"};
  app.add_option("--url", options.url,
                 "nfs://server/export[/dir]?nfsport=P&mountport=Q (NFSv3 only)")
      ->required();
  app.add_option("--timeout-ms", options.timeout_ms,
                 "every NFS call fails with EIO after this long (rounded up to whole seconds)")
      ->check(CLI::Range(1, 3600 * 1000));
  app.add_option("--threads", options.threads, "FUSE worker threads and NFS connections")
      ->check(CLI::Range(1, 64));
  app.add_option("--readahead-kib", options.readahead_kib,
                 "the kernel's read-ahead window for this mount, in KiB (0: leave it)")
      ->check(CLI::Range(0, 65536));
  app.add_option("--write-behind-kib", options.write_behind_kib,
                 "per open file, how much written data may wait to be sent, in KiB (0: every "
                 "write waits for the server; close and fsync always wait)")
      ->check(CLI::Range(0, 262144));
  app.add_flag("--read-only", options.read_only, "mount read-only");
  app.add_flag("--suid", options.suid, "honour set-user-ID bits (mounted nosuid otherwise)");
  app.add_option("--log", options.log_file, "append logs to this file instead of stderr");
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn or error");
  app.add_option("mountpoint", options.mountpoint, "an existing directory")->required();
  app.set_version_flag("--version", berth::VersionLine("berth-nfs-fuse"));
  CLI11_PARSE(app, argc, argv);

  try {
    SetUpLogging(options);
    return Serve(options);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
