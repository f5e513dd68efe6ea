#include "backends/nfs/nfs_context.h"

#include <nfsc/libnfs-raw-nfs.h>

#include <cstring>

#include "common/error.h"

namespace berth::nfs {

std::unique_ptr<NfsContext> NfsContext::Connect(const ContextOptions& options) {
  ContextPtr context(nfs_init_context());
  if (!context) {
    throw Error(ErrorCode::kInternal, "cannot create an NFS client context (out of memory?)");
  }
  // Parsing applies the URL's query (ports, uid, version) to the context, so it comes first
  // and the settings that must win come after it.
  UrlPtr url(nfs_parse_url_dir(context.get(), options.url.c_str()));
  if (!url || url->server == nullptr || url->path == nullptr) {
    throw Error(ErrorCode::kInvalidArgument,
                "bad NFS URL '" + options.url + "': " + nfs_get_error(context.get()));
  }
  if (nfs_set_version(context.get(), NFS_V3) != 0) {
    throw Error(ErrorCode::kInternal,
                std::string("cannot select NFSv3: ") + nfs_get_error(context.get()));
  }
  const auto millis = options.timeout.count();
  const int seconds = static_cast<int>(millis <= 0 ? 1 : (millis + 999) / 1000);
  nfs_set_timeout(context.get(), seconds * 1000);

  const int rc = nfs_mount(context.get(), url->server, url->path);
  if (rc != 0) {
    throw Error(ErrorCode::kUnavailable, "cannot mount nfs://" + std::string(url->server) +
                                             url->path + ": " + nfs_get_error(context.get()) +
                                             " (" + std::strerror(-rc) + ")");
  }
  return std::make_unique<NfsContext>(std::move(context));
}

std::string NfsContext::LastError() const {
  const char* text = nfs_get_error(context_.get());
  return text == nullptr ? std::string() : std::string(text);
}

}  // namespace berth::nfs
