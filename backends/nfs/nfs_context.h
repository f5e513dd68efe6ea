// One mounted libnfs sync context (NFSv3) and the libnfs handles opened on it, released by RAII.
#pragma once

#include <nfsc/libnfs.h>

#include <chrono>
#include <memory>
#include <string>

namespace berth::nfs {

struct ContextDeleter {
  void operator()(nfs_context* context) const { nfs_destroy_context(context); }
};
struct UrlDeleter {
  void operator()(nfs_url* url) const { nfs_destroy_url(url); }
};
using ContextPtr = std::unique_ptr<nfs_context, ContextDeleter>;
using UrlPtr = std::unique_ptr<nfs_url, UrlDeleter>;

struct ContextOptions {
  // nfs://server/export[/sub]?nfsport=P&mountport=Q. libnfs 4.0 has no port setters, so the
  // ports can only reach it through the URL's query.
  std::string url;
  // Bounds every RPC, so a server that went away is an error rather than a hang. libnfs only
  // honours whole seconds; Connect rounds up.
  std::chrono::milliseconds timeout{10000};
};

// A sync libnfs context mounted on the URL's export. Not thread-safe (libnfs keeps one socket
// and one reply queue per context): one thread at a time may use it.
class NfsContext {
 public:
  // Parses the URL, forces NFSv3 (libnfs 4.0's NFSv4 client breaks writes over 3944 bytes)
  // and mounts. Bad URLs are kInvalidArgument; an unreachable server is kUnavailable.
  static std::unique_ptr<NfsContext> Connect(const ContextOptions& options);

  explicit NfsContext(ContextPtr context) : context_(std::move(context)) {}
  nfs_context* get() const { return context_.get(); }
  // libnfs' text for the last failure on this context (e.g. "command timed out").
  std::string LastError() const;

 private:
  ContextPtr context_;
};

// An open file. The handle belongs to the context that opened it: closing (the destructor)
// and all I/O must happen on that context, by the one thread using it at the time.
class NfsFile {
 public:
  NfsFile(nfs_context* context, nfsfh* fh) : context_(context), fh_(fh) {}
  NfsFile(const NfsFile&) = delete;
  NfsFile& operator=(const NfsFile&) = delete;
  ~NfsFile() { nfs_close(context_, fh_); }
  nfsfh* get() const { return fh_; }

 private:
  nfs_context* context_;
  nfsfh* fh_;
};

// An open directory listing (libnfs reads the whole directory at opendir).
class NfsDir {
 public:
  NfsDir(nfs_context* context, nfsdir* dir) : context_(context), dir_(dir) {}
  NfsDir(const NfsDir&) = delete;
  NfsDir& operator=(const NfsDir&) = delete;
  ~NfsDir() { nfs_closedir(context_, dir_); }
  nfsdir* get() const { return dir_; }

 private:
  nfs_context* context_;
  nfsdir* dir_;
};

}  // namespace berth::nfs
