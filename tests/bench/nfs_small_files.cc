// The libnfs small-file floor for tests/bench/nfs.sh: one mounted libnfs context, and for each
// file a create, a write and a close over that same connection, as a program linked against
// libnfs would do it. No FUSE, no kernel, no path cache beyond libnfs' own.
//   berth_bench_nfs_small_files URL DIR COUNT BYTES [--commit]
// URL is nfs://server/export?nfsport=P&mountport=Q; DIR (relative to the export, made here)
// must not exist. --commit adds an fsync (COMMIT) before each close, as close(2) through
// berth-nfs-fuse does. Prints the wall time of the loop in microseconds.
#include <fcntl.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "backends/nfs/nfs_context.h"

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6 || (argc == 6 && std::string(argv[5]) != "--commit")) {
    std::cerr << "usage: " << argv[0] << " URL DIR COUNT BYTES [--commit]\n";
    return 2;
  }
  const std::string url = argv[1];
  const std::string dir = std::string("/") + argv[2];
  const long count = std::strtol(argv[3], nullptr, 10);
  const long bytes = std::strtol(argv[4], nullptr, 10);
  const bool commit = argc == 6;
  if (count <= 0 || bytes <= 0 || bytes > (1 << 20)) {
    std::cerr << "COUNT must be positive and BYTES 1..1048576\n";
    return 2;
  }
  try {
    const auto context = berth::nfs::NfsContext::Connect({.url = url});
    nfs_context* nfs = context->get();
    if (nfs_mkdir(nfs, dir.c_str()) != 0) {
      std::cerr << "mkdir " << dir << ": " << context->LastError() << "\n";
      return 1;
    }
    const std::string data(static_cast<size_t>(bytes), ' ');
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < count; ++i) {
      const std::string path = dir + "/f" + std::to_string(i);
      nfsfh* raw = nullptr;
      if (nfs_create(nfs, path.c_str(), O_WRONLY | O_CREAT, 0644, &raw) != 0) {
        std::cerr << "create " << path << ": " << context->LastError() << "\n";
        return 1;
      }
      const berth::nfs::NfsFile file(nfs, raw);  // closes
      if (nfs_write(nfs, file.get(), data.size(), data.data()) != bytes ||
          (commit && nfs_fsync(nfs, file.get()) != 0)) {
        std::cerr << "write " << path << ": " << context->LastError() << "\n";
        return 1;
      }
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    std::cout << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count() << "\n";
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
